// Strict decoding of the chart's Prometheus operator resources into the operator's own
// API types (github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring):
// a field the operator does not know, or a value of the wrong type, is an error, as
// the API server's validation of the CRD would make it. scripts/deploy-check.sh builds
// this in a throwaway module (cached by version); deploy-check.py feeds it the
// rendered ServiceMonitors and PrometheusRules as JSON documents on stdin.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
)

func main() {
	dec := json.NewDecoder(os.Stdin)
	failed, checked := 0, 0
	for {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err == io.EOF {
			break
		} else if err != nil {
			fmt.Fprintf(os.Stderr, "monitoring-check: reading input: %v\n", err)
			os.Exit(2)
		}
		var head struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Metadata   struct {
				Name string `json:"name"`
			} `json:"metadata"`
		}
		if err := json.Unmarshal(raw, &head); err != nil {
			fmt.Fprintf(os.Stderr, "monitoring-check: %v\n", err)
			os.Exit(2)
		}
		var target any
		switch head.Kind {
		case monitoringv1.ServiceMonitorsKind:
			target = &monitoringv1.ServiceMonitor{}
		case monitoringv1.PrometheusRuleKind:
			target = &monitoringv1.PrometheusRule{}
		default:
			fmt.Fprintf(os.Stderr, "monitoring-check: %s/%s: not a kind this checks\n", head.Kind, head.Metadata.Name)
			failed++
			continue
		}
		checked++
		if head.APIVersion != monitoringv1.SchemeGroupVersion.String() {
			fmt.Printf("FAIL %s/%s: apiVersion %q, want %q\n", head.Kind, head.Metadata.Name, head.APIVersion, monitoringv1.SchemeGroupVersion.String())
			failed++
			continue
		}
		strict := json.NewDecoder(bytes.NewReader(raw))
		strict.DisallowUnknownFields()
		if err := strict.Decode(target); err != nil {
			fmt.Printf("FAIL %s/%s: %v\n", head.Kind, head.Metadata.Name, err)
			failed++
			continue
		}
		if sm, ok := target.(*monitoringv1.ServiceMonitor); ok && len(sm.Spec.Endpoints) == 0 {
			fmt.Printf("FAIL ServiceMonitor/%s: no endpoints\n", sm.Name)
			failed++
			continue
		}
		fmt.Printf("ok %s/%s\n", head.Kind, head.Metadata.Name)
	}
	if checked == 0 && failed == 0 {
		fmt.Fprintln(os.Stderr, "monitoring-check: no resources on stdin")
		os.Exit(2)
	}
	if failed > 0 {
		os.Exit(1)
	}
}
