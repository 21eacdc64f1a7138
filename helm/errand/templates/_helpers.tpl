{{/*
Names. The full name is the release name when it already contains the chart's name
(release "errand" gives "errand"), else release-chart; 63 characters at most.
*/}}
{{- define "errand.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "errand.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* A component's resource name: errand.component (dict "root" $ "component" "kafka"). */}}
{{- define "errand.componentName" -}}
{{- printf "%s-%s" (include "errand.fullname" .root) .component | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels of every resource; call with (dict "root" $ "component" "api"). */}}
{{- define "errand.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "errand.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: errand
{{- end -}}

{{/* The labels a selector matches: name, instance and component. */}}
{{- define "errand.selectorLabels" -}}
app.kubernetes.io/name: {{ include "errand.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Every Errand pod (API, consumers, embedded) carries this label: the bundled
dependencies' NetworkPolicies admit exactly these pods. */}}
{{- define "errand.clientLabel" -}}
errand.dev/client: {{ .Release.Name | quote }}
{{- end -}}

{{/* An image reference: repository@digest when a digest is given, else repository:tag. */}}
{{- define "errand.imageRef" -}}
{{- if .image.digest -}}
{{- printf "%s@%s" .image.repository .image.digest -}}
{{- else -}}
{{- printf "%s:%s" .image.repository (toString (default .default .image.tag)) -}}
{{- end -}}
{{- end -}}

{{- define "errand.image" -}}
{{- include "errand.imageRef" (dict "image" .Values.image "default" .Chart.AppVersion) -}}
{{- end -}}

{{- define "errand.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "errand.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The Secret holding jwt-secret, database-url and openai-api-key. */}}
{{- define "errand.secretName" -}}
{{- default (include "errand.fullname" .) .Values.secrets.existingSecret -}}
{{- end -}}

{{/* Whether Errand uses PostgreSQL (bundled, external, or named by an existing Secret). */}}
{{- define "errand.usesPostgres" -}}
{{- if or .Values.postgresql.enabled .Values.database.url .Values.secrets.existingSecret -}}true{{- end -}}
{{- end -}}

{{- define "errand.kafkaBrokers" -}}
{{- if .Values.kafka.enabled -}}
{{- printf "%s.%s.svc.%s:9092" (include "errand.componentName" (dict "root" . "component" "kafka")) .Release.Namespace .Values.clusterDomain -}}
{{- else -}}
{{- .Values.dapr.kafka.brokers -}}
{{- end -}}
{{- end -}}

{{- define "errand.redisAddress" -}}
{{- if .Values.redis.enabled -}}
{{- printf "%s.%s.svc.%s:6379" (include "errand.componentName" (dict "root" . "component" "redis")) .Release.Namespace .Values.clusterDomain -}}
{{- else -}}
{{- .Values.dapr.redis.address -}}
{{- end -}}
{{- end -}}

{{/* The Secret and key of Redis's password for the state store (empty: none). */}}
{{- define "errand.redisPasswordRef" -}}
{{- if .Values.redis.enabled -}}
{{- toJson (dict "name" (include "errand.componentName" (dict "root" . "component" "redis")) "key" "password") -}}
{{- else if .Values.dapr.redis.passwordSecret.name -}}
{{- toJson .Values.dapr.redis.passwordSecret -}}
{{- end -}}
{{- end -}}

{{/*
A value kept across upgrades: the key of an existing Secret when the cluster has it
(lookup answers nothing under `helm template`), else the fallback.
Call with (dict "root" $ "secret" NAME "key" KEY "fallback" VALUE).
*/}}
{{- define "errand.kept" -}}
{{- $existing := lookup "v1" "Secret" .root.Release.Namespace .secret -}}
{{- if and $existing $existing.data (hasKey $existing.data .key) -}}
{{- index $existing.data .key | b64dec -}}
{{- else -}}
{{- .fallback -}}
{{- end -}}
{{- end -}}

{{/* Values that contradict each other stop the install with a sentence saying why. */}}
{{- define "errand.validate" -}}
{{- if eq .Values.runtime "dapr" -}}
{{- if not (include "errand.usesPostgres" .) -}}
{{- fail "runtime dapr needs PostgreSQL: set postgresql.enabled=true, database.url, or secrets.existingSecret with a database-url (the API replicas and the consumers share one database)" -}}
{{- end -}}
{{- if not (include "errand.kafkaBrokers" .) -}}
{{- fail "runtime dapr needs Kafka: set kafka.enabled=true or dapr.kafka.brokers" -}}
{{- end -}}
{{- if not (include "errand.redisAddress" .) -}}
{{- fail "runtime dapr needs Redis: set redis.enabled=true or dapr.redis.address" -}}
{{- end -}}
{{- else -}}
{{- if or .Values.kafka.enabled .Values.redis.enabled -}}
{{- fail "kafka and redis serve the Dapr runtime only: with runtime embedded leave kafka.enabled and redis.enabled false" -}}
{{- end -}}
{{- end -}}
{{- if and .Values.postgresql.enabled .Values.database.url -}}
{{- fail "set either postgresql.enabled (the bundled PostgreSQL) or database.url (an external one), not both" -}}
{{- end -}}
{{- if and .Values.secrets.existingSecret (or .Values.secrets.jwtSecret .Values.secrets.openaiApiKey .Values.database.url) -}}
{{- fail "with secrets.existingSecret, put jwt-secret, database-url and openai-api-key in that Secret, not in secrets.jwtSecret, secrets.openaiApiKey or database.url" -}}
{{- end -}}
{{- end -}}

{{/* The environment every Errand container shares: settings from the ConfigMap, and in
the embedded runtime the secrets from the Secret (in the Dapr runtime Errand reads them
through daprd from the secret store instead, so they are in no variable). */}}
{{- define "errand.env" -}}
envFrom:
  - configMapRef:
      name: {{ include "errand.componentName" (dict "root" . "component" "env") }}
{{- if or (ne .Values.runtime "dapr") .Values.extraEnv }}
env:
{{- if ne .Values.runtime "dapr" }}
  - name: ERRAND_JWT_SECRET
    valueFrom:
      secretKeyRef: {name: {{ include "errand.secretName" . }}, key: jwt-secret, optional: {{ ternary "true" "false" (not (empty .Values.secrets.existingSecret)) }}}
  - name: ERRAND_DATABASE_URL
    valueFrom:
      secretKeyRef: {name: {{ include "errand.secretName" . }}, key: database-url, optional: true}
  - name: OPENAI_API_KEY
    valueFrom:
      secretKeyRef: {name: {{ include "errand.secretName" . }}, key: openai-api-key, optional: true}
{{- end }}
{{- with .Values.extraEnv }}
{{ toYaml . | indent 2 }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Rolls the pods when the settings or the secrets' values change. */}}
{{- define "errand.checksums" -}}
checksum/config: {{ include (print .Template.BasePath "/configmap.yaml") . | sha256sum }}
checksum/secrets: {{ toJson (list .Values.secrets .Values.database .Values.postgresql.auth .Values.redis.auth) | sha256sum }}
{{- if eq .Values.runtime "dapr" }}
{{- /* daprd reads its components and Configuration at start. */}}
checksum/dapr: {{ include (print .Template.BasePath "/dapr.yaml") . | sha256sum }}
{{- end }}
{{- end -}}

{{/* HTTP probes of an Errand container; readiness on `ready` (/readyz for the API). */}}
{{- define "errand.probes" -}}
startupProbe:
  httpGet: {path: /healthz, port: http}
  periodSeconds: {{ .root.Values.probes.startup.periodSeconds }}
  timeoutSeconds: {{ .root.Values.probes.startup.timeoutSeconds }}
  failureThreshold: {{ .root.Values.probes.startup.failureThreshold }}
readinessProbe:
  httpGet: {path: {{ .ready }}, port: http}
  periodSeconds: {{ .root.Values.probes.readiness.periodSeconds }}
  timeoutSeconds: {{ .root.Values.probes.readiness.timeoutSeconds }}
  failureThreshold: {{ .root.Values.probes.readiness.failureThreshold }}
livenessProbe:
  httpGet: {path: /healthz, port: http}
  periodSeconds: {{ .root.Values.probes.liveness.periodSeconds }}
  timeoutSeconds: {{ .root.Values.probes.liveness.timeoutSeconds }}
  failureThreshold: {{ .root.Values.probes.liveness.failureThreshold }}
{{- end -}}

{{/* The Dapr sidecar's annotations for an app id. */}}
{{- define "errand.daprAnnotations" -}}
dapr.io/enabled: "true"
dapr.io/app-id: {{ .appId | quote }}
dapr.io/app-port: "8080"
dapr.io/app-protocol: http
dapr.io/config: {{ include "errand.daprConfigName" .root | quote }}
dapr.io/log-level: {{ .root.Values.dapr.logLevel | quote }}
dapr.io/log-as-json: "true"
dapr.io/enable-app-health-check: "true"
dapr.io/app-health-check-path: /healthz
dapr.io/graceful-shutdown-seconds: {{ .root.Values.dapr.gracefulShutdownSeconds | quote }}
dapr.io/sidecar-cpu-request: {{ .root.Values.dapr.sidecar.cpuRequest | quote }}
dapr.io/sidecar-memory-request: {{ .root.Values.dapr.sidecar.memoryRequest | quote }}
dapr.io/sidecar-cpu-limit: {{ .root.Values.dapr.sidecar.cpuLimit | quote }}
dapr.io/sidecar-memory-limit: {{ .root.Values.dapr.sidecar.memoryLimit | quote }}
dapr.io/sidecar-seccomp-profile-type: RuntimeDefault
{{- end -}}

{{/* The Configuration's name, as dapr/config.yaml names it. */}}
{{- define "errand.daprConfigName" -}}
{{- (.Files.Get "dapr/config.yaml" | fromYaml).metadata.name -}}
{{- end -}}

{{/* The name of the dapr/ component of a type family (pubsub., state., secretstores.). */}}
{{- define "errand.daprComponentOfType" -}}
{{- $found := "" -}}
{{- range $path, $_ := .root.Files.Glob "dapr/components/*.yaml" -}}
{{- $doc := $.root.Files.Get $path | fromYaml -}}
{{- if and (eq $doc.kind "Component") (hasPrefix $.prefix $doc.spec.type) -}}
{{- $found = $doc.metadata.name -}}
{{- end -}}
{{- end -}}
{{- required (printf "dapr/components has no %s component" .prefix) $found -}}
{{- end -}}

{{/* The volumes every Errand container mounts: its data directory and /tmp. */}}
{{- define "errand.tmpVolume" -}}
- name: tmp
  emptyDir: {sizeLimit: 256Mi}
{{- end -}}
