{{/* vllm-models.image: the vLLM image reference, `repository:tag`, or `repository:tag@sha256:...` with image.digest (the runtime pulls by digest; the tag stays for the version). */}}
{{- define "vllm-models.image" -}}
{{- $tag := include "vllm-models.imageTag" . -}}
{{- with .Values.image.digest -}}
{{- if not $.Values.image.tag -}}
{{- fail (printf "vllm-models: image.digest (%s) is set but image.tag is not (it comes from global.image.tag, %s): a digest pins the content of one tag, so set image.tag beside it to the version the digest was read for" . $tag) -}}
{{- end -}}
{{- printf "%s:%s@%s" $.Values.image.repository $tag . -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/* vllm-models.imagePullPolicy: image.pullPolicy, else IfNotPresent with a digest and Always without (a tag can move). */}}
{{- define "vllm-models.imagePullPolicy" -}}
{{- .Values.image.pullPolicy | default (ternary "IfNotPresent" "Always" (not (empty .Values.image.digest))) -}}
{{- end -}}
