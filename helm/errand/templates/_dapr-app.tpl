{{/*
A Dapr app of Errand: a Deployment whose pods carry a daprd sidecar, with its HPA and
PodDisruptionBudget. Call with (dict "root" $ "component" NAME "appId" ID "args" LIST
"ready" PATH "spec" VALUES), where VALUES has replicas, autoscaling, pdb, resources and
optionally podAnnotations, podLabels, nodeSelector, tolerations, affinity,
topologySpread, indexVolumeSizeLimit, terminationGracePeriodSeconds.
*/}}
{{- define "errand.daprApp" -}}
{{- $root := .root -}}
{{- $s := .spec -}}
{{- $name := include "errand.componentName" (dict "root" $root "component" .component) -}}
{{- if eq .component "api" }}{{ $name = include "errand.fullname" $root }}{{ end -}}
{{- $selector := include "errand.selectorLabels" (dict "root" $root "component" .component) -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ $name }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "errand.labels" (dict "root" $root "component" .component) | nindent 4 }}
spec:
  {{- if not $s.autoscaling.enabled }}
  replicas: {{ $s.replicas }}
  {{- end }}
  revisionHistoryLimit: 5
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxSurge: 1, maxUnavailable: 0}
  selector:
    matchLabels:
      {{- $selector | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "errand.labels" (dict "root" $root "component" .component) | nindent 8 }}
        {{- include "errand.clientLabel" $root | nindent 8 }}
        {{- with $s.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      annotations:
        {{- include "errand.daprAnnotations" (dict "root" $root "appId" .appId) | nindent 8 }}
        {{- include "errand.checksums" $root | nindent 8 }}
        {{- with $s.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ include "errand.serviceAccountName" $root }}
      # daprd reads Errand's Secret from the Kubernetes API (the secret store) with
      # this ServiceAccount's token; the Role allows `get` on that Secret only.
      automountServiceAccountToken: true
      {{- with $root.Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      securityContext:
        {{- toYaml $root.Values.podSecurityContext | nindent 8 }}
      terminationGracePeriodSeconds: {{ $s.terminationGracePeriodSeconds | default 30 }}
      containers:
        - name: errand
          image: {{ include "errand.image" $root | quote }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          args: {{ toJson .args }}
          {{- include "errand.env" $root | nindent 10 }}
          ports:
            - name: http
              containerPort: 8080
              protocol: TCP
          {{- include "errand.probes" (dict "root" $root "ready" .ready) | nindent 10 }}
          resources:
            {{- toYaml $s.resources | nindent 12 }}
          securityContext:
            {{- toYaml $root.Values.containerSecurityContext | nindent 12 }}
          volumeMounts:
            - name: data
              mountPath: /var/lib/errand
            - name: tmp
              mountPath: /tmp
      volumes:
        {{- include "errand.tmpVolume" $root | nindent 8 }}
        # The data directory holds no state of record in the Dapr runtime (that is in
        # PostgreSQL and Redis): the API's search index, rebuilt at start.
        - name: data
          emptyDir: {sizeLimit: {{ $s.indexVolumeSizeLimit | default "256Mi" }}}
      {{- if and $s.topologySpread $s.topologySpread.enabled }}
      topologySpreadConstraints:
        - maxSkew: {{ $s.topologySpread.maxSkew }}
          topologyKey: topology.kubernetes.io/zone
          whenUnsatisfiable: ScheduleAnyway
          labelSelector:
            matchLabels:
              {{- $selector | nindent 14 }}
        - maxSkew: {{ $s.topologySpread.maxSkew }}
          topologyKey: kubernetes.io/hostname
          whenUnsatisfiable: ScheduleAnyway
          labelSelector:
            matchLabels:
              {{- $selector | nindent 14 }}
      {{- end }}
      {{- with $s.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $s.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $s.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
{{- if $s.autoscaling.enabled }}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ $name }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "errand.labels" (dict "root" $root "component" .component) | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ $name }}
  minReplicas: {{ $s.autoscaling.minReplicas }}
  maxReplicas: {{ $s.autoscaling.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ $s.autoscaling.targetCPUUtilizationPercentage }}
    {{- with $s.autoscaling.targetMemoryUtilizationPercentage }}
    - type: Resource
      resource:
        name: memory
        target:
          type: Utilization
          averageUtilization: {{ . }}
    {{- end }}
{{- end }}
{{- if $s.pdb.enabled }}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ $name }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "errand.labels" (dict "root" $root "component" .component) | nindent 4 }}
spec:
  maxUnavailable: {{ $s.pdb.maxUnavailable }}
  selector:
    matchLabels:
      {{- $selector | nindent 6 }}
{{- end }}
{{- end -}}
