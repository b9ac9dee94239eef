{{/* vllm-models.name: the chart name used in app.kubernetes.io/name. */}}
{{- define "vllm-models.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* vllm-models.fullname: the name of every object of the release (fleet convention llms-v2-<model>). */}}
{{- define "vllm-models.fullname" -}}
{{- default .Release.Name .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* vllm-models.chart: chart name and version for the helm.sh/chart label. */}}
{{- define "vllm-models.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* vllm-models.imageTag: the release's vLLM image tag, falling back to the environment's. */}}
{{- define "vllm-models.imageTag" -}}
{{- $tag := .Values.image.tag | default .Values.global.image.tag -}}
{{- required "vllm-models: image.tag (or global.image.tag) is required: pin a vLLM release such as v0.11.0" $tag -}}
{{- end -}}

{{/* vllm-models.selectorLabels: the minimal, immutable labels that select the release's pods. */}}
{{- define "vllm-models.selectorLabels" -}}
app.kubernetes.io/name: {{ include "vllm-models.name" . | quote }}
app.kubernetes.io/instance: {{ .Release.Name }}
model: {{ .Values.modelName | quote }}
{{- end -}}

{{/* vllm-models.labels: standard labels on every object, plus the model metadata policies read. */}}
{{- define "vllm-models.labels" -}}
helm.sh/chart: {{ include "vllm-models.chart" . }}
{{ include "vllm-models.selectorLabels" . }}
app.kubernetes.io/version: {{ include "vllm-models.imageTag" . | quote }}
app.kubernetes.io/component: inference-server
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: vllm-models
vllm-models.io/category: {{ .Values.modelInfo.category }}
vllm-models.io/architecture: {{ .Values.modelInfo.architecture }}
vllm-models.io/size-class: {{ include "vllm-models.sizeClass" . | fromYaml | dig "name" "" }}
{{- end -}}

{{/* vllm-models.modelAnnotations: model facts that are not label-safe, for policies and humans. */}}
{{- define "vllm-models.modelAnnotations" -}}
vllm-models.io/parameters-billions: {{ .Values.modelInfo.parameters | quote }}
vllm-models.io/served-model-name: {{ .Values.deployment.servedModelName | quote }}
{{- if .Values.deployment.trustRemoteCode }}
{{ (include "vllm-models.rules" . | fromYaml).remoteCode.reasonAnnotation }}: {{ .Values.deployment.trustRemoteCodeReason | trim | quote }}
{{- end }}
{{- if and .Values.lora.enabled .Values.lora.adapters }}
{{- $ranks := dict -}}
{{- range .Values.lora.adapters }}{{ $_ := set $ranks .name (int .rank) }}{{ end }}
{{ (include "vllm-models.rules" . | fromYaml).lora.ranksAnnotation }}: {{ toJson $ranks | quote }}
{{- end }}
{{- end -}}

{{/* vllm-models.podAnnotations: the annotations the chart puts on every pod (model facts, Prometheus scrape). */}}
{{- define "vllm-models.podAnnotations" -}}
{{ include "vllm-models.modelAnnotations" . }}
{{- if .Values.metrics.podAnnotations }}
prometheus.io/scrape: "true"
prometheus.io/port: {{ .Values.deployment.port | quote }}
prometheus.io/path: /metrics
{{- end }}
{{- end -}}

{{/* vllm-models.serviceAccountName: the ServiceAccount the pods run as. */}}
{{- define "vllm-models.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "vllm-models.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* vllm-models.pdbEnabled: "true" when the release gets a PodDisruptionBudget (release value, else global). */}}
{{- define "vllm-models.pdbEnabled" -}}
{{- if kindIs "bool" .Values.podDisruptionBudget.enabled -}}
{{- .Values.podDisruptionBudget.enabled -}}
{{- else -}}
{{- .Values.global.podDisruptionBudget.enabled -}}
{{- end -}}
{{- end -}}

{{/* vllm-models.networkPolicyEnabled: "true" when the release gets a NetworkPolicy (release value, else global). */}}
{{- define "vllm-models.networkPolicyEnabled" -}}
{{- if kindIs "bool" .Values.networkPolicy.enabled -}}
{{- .Values.networkPolicy.enabled -}}
{{- else -}}
{{- .Values.global.networkPolicy.enabled -}}
{{- end -}}
{{- end -}}

{{/* vllm-models.clientCIDRs: the address ranges the NetworkPolicy admits clients from (global.networkPolicy.clientCIDRs, then the release's), each once, as a YAML list. */}}
{{- define "vllm-models.clientCIDRs" -}}
{{- concat (.Values.global.networkPolicy.clientCIDRs | default list) (.Values.networkPolicy.clientCIDRs | default list) | uniq | toYaml -}}
{{- end -}}

{{/* vllm-models.externalTrafficPolicy: service.externalTrafficPolicy, else Local when a NetworkPolicy admits clients by address (Cluster would masquerade them to a node address), else "" (Kubernetes' Cluster). */}}
{{- define "vllm-models.externalTrafficPolicy" -}}
{{- if eq .Values.service.type "ClusterIP" -}}
{{- else if .Values.service.externalTrafficPolicy -}}
{{- .Values.service.externalTrafficPolicy -}}
{{- else if and (eq (include "vllm-models.networkPolicyEnabled" .) "true") (include "vllm-models.clientCIDRs" . | fromYamlArray) -}}
Local
{{- end -}}
{{- end -}}

{{/* vllm-models.servingSelector: the labels of the pods that serve the API, for the Service and the InferencePool: every pod of a Deployment, a group's leader only (LWS labels it worker-index "0", as its own leader StatefulSet selects it). */}}
{{- define "vllm-models.servingSelector" -}}
{{ include "vllm-models.selectorLabels" . }}
{{- if eq (include "vllm-models.isGroup" .) "true" }}
leaderworkerset.sigs.k8s.io/worker-index: "0"
{{- end }}
{{- end -}}
