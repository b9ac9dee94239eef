{{/* llms-namespace.name: the chart name used in app.kubernetes.io/name. */}}
{{- define "llms-namespace.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* llms-namespace.chart: chart name and version for the helm.sh/chart label. */}}
{{- define "llms-namespace.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* llms-namespace.labels: standard labels on every object of the release. */}}
{{- define "llms-namespace.labels" -}}
helm.sh/chart: {{ include "llms-namespace.chart" . }}
app.kubernetes.io/name: {{ include "llms-namespace.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: namespace
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: vllm-models
{{- end -}}
