{{/* vllm-models.downloadSeconds: the longest the weights download may take before vLLM starts, in seconds (0: nothing is downloaded). */}}
{{- define "vllm-models.downloadSeconds" -}}
0
{{- end -}}
