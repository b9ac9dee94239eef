{{/* vllm-models.downloadEnabled: "true" when an init container fetches the weights before vLLM starts (storage.download.enabled). */}}
{{- define "vllm-models.downloadEnabled" -}}
{{- eq (toString .Values.storage.download.enabled) "true" -}}
{{- end -}}

{{/* vllm-models.downloadWorkloadIdentity: "true" when an S3 download takes its AWS credentials from the pods' ServiceAccount (storage.download.s3.auth irsa or eksPodIdentity) instead of a key Secret. */}}
{{- define "vllm-models.downloadWorkloadIdentity" -}}
{{- $dl := .Values.storage.download -}}
{{- and (eq (include "vllm-models.downloadEnabled" .) "true") (eq $dl.source "s3") (ne ($dl.s3.auth | default "secret") "secret") -}}
{{- end -}}

{{/* vllm-models.downloadSeconds: the longest the weights download may take before vLLM starts, in seconds (0: nothing is downloaded); defaults to the startup budget. */}}
{{- define "vllm-models.downloadSeconds" -}}
{{- if eq (include "vllm-models.downloadEnabled" .) "true" -}}
{{- .Values.storage.download.timeoutSeconds | default (include "vllm-models.startupBudgetSeconds" .) | int -}}
{{- else -}}
0
{{- end -}}
{{- end -}}

{{/* vllm-models.downloadImage: the download container's image, repository:tag[@digest] (Hugging Face without its own image: the release's vLLM image). */}}
{{- define "vllm-models.downloadImage" -}}
{{- $dl := .Values.storage.download -}}
{{- $image := get $dl (ternary "s3" "huggingface" (eq $dl.source "s3")) | dig "image" dict -}}
{{- $ref := "" -}}
{{- if $image.repository -}}
{{- $ref = printf "%s:%s" $image.repository $image.tag -}}
{{- else -}}
{{- $ref = printf "%s:%s" .Values.image.repository (include "vllm-models.imageTag" .) -}}
{{- end -}}
{{- if $image.digest -}}
{{- $ref = printf "%s@%s" $ref $image.digest -}}
{{- end -}}
{{- $ref -}}
{{- end -}}

{{/* vllm-models.downloadSourceId: what a complete copy records in its marker, the source and its revision (a different one downloads again). */}}
{{- define "vllm-models.downloadSourceId" -}}
{{- $dl := .Values.storage.download -}}
{{- if eq $dl.source "s3" -}}
{{- $dl.s3.uri -}}{{ with $dl.s3.endpoint }} at {{ . }}{{ end -}}
{{- else -}}
{{- printf "hf://%s" $dl.huggingface.repo -}}{{ with $dl.huggingface.revision }}@{{ . }}{{ end -}}
{{- end -}}
{{- end -}}

{{/* vllm-models.downloadContainer: the init container that fetches the weights into deployment.model (files/model-download.sh), as YAML. */}}
{{- define "vllm-models.downloadContainer" -}}
{{- $dl := .Values.storage.download -}}
{{- $target := trimSuffix "/" .Values.deployment.model -}}
{{- $partial := printf "%s.partial" $target -}}
{{- $seconds := include "vllm-models.downloadSeconds" . | int -}}
{{- $env := list (dict "name" "MODEL_DIR" "value" $target) (dict "name" "SOURCE_ID" "value" (include "vllm-models.downloadSourceId" .)) -}}
{{- /* A lock older than one attempt's time limit outlived the pod that took it. */ -}}
{{- $env = append $env (dict "name" "LOCK_STALE_MINUTES" "value" (toString (add1 (div (add $seconds 59) 60)))) -}}
{{- $env = append $env (dict "name" "POD_NAME" "valueFrom" (dict "fieldRef" (dict "fieldPath" "metadata.name"))) -}}
{{- $env = append $env (dict "name" "HOME" "value" "/tmp") -}}
{{- $command := list -}}
{{- if eq $dl.source "s3" -}}
{{- $s3 := $dl.s3 -}}
{{- if eq (include "vllm-models.downloadWorkloadIdentity" .) "false" -}}
{{- $secret := $s3.credentialsSecret -}}
{{- $env = concat $env (list
  (dict "name" "AWS_ACCESS_KEY_ID" "valueFrom" (dict "secretKeyRef" (dict "name" $secret.name "key" $secret.accessKeyIdKey)))
  (dict "name" "AWS_SECRET_ACCESS_KEY" "valueFrom" (dict "secretKeyRef" (dict "name" $secret.name "key" $secret.secretAccessKeyKey)))) -}}
{{- end -}}
{{- $env = append $env (dict "name" "AWS_DEFAULT_REGION" "value" $s3.region) -}}
{{- $command = list "aws" "s3" "sync" $s3.uri $partial "--no-progress" "--only-show-errors" -}}
{{- with $s3.endpoint -}}
{{- /* An S3-compatible store: no EC2 instance metadata to ask for credentials (seed 002's awsEc2MetadataDisabled). */ -}}
{{- $env = append $env (dict "name" "AWS_EC2_METADATA_DISABLED" "value" "true") -}}
{{- $command = concat $command (list "--endpoint-url" .) -}}
{{- end -}}
{{- else -}}
{{- $hf := $dl.huggingface -}}
{{- with $.Values.huggingface.tokenSecret.name -}}
{{- $env = append $env (dict "name" "HF_TOKEN" "valueFrom" (dict "secretKeyRef" (dict "name" . "key" $.Values.huggingface.tokenSecret.key))) -}}
{{- end -}}
{{- $env = concat $env (list (dict "name" "HF_HOME" "value" "/tmp/huggingface") (dict "name" "HF_HUB_DISABLE_TELEMETRY" "value" "1")) -}}
{{- /* huggingface_hub's snapshot_download (the API `hf download` calls): the same in every release
       from 0.34 on, where the CLI's --include changed form (argparse, then typer). */ -}}
{{- $python := "import json, sys\nfrom huggingface_hub import snapshot_download\nrepo, revision, target, patterns = sys.argv[1:5]\nsnapshot_download(repo_id=repo, revision=revision or None, local_dir=target, allow_patterns=json.loads(patterns) or None)" -}}
{{- $command = list "python3" "-c" $python $hf.repo $hf.revision $partial ($hf.include | default list | toJson) -}}
{{- end -}}
{{- $limits := $dl.resources.limits -}}
{{- $requests := merge (dict) ($dl.resources.requests | default dict) $limits -}}
{{- $script := regexReplaceAll "(?m)^#.*\n" (.Files.Get "files/model-download.sh") "" -}}
name: model-download
image: {{ include "vllm-models.downloadImage" . | quote }}
imagePullPolicy: IfNotPresent
command:
  {{- toYaml (list "timeout" (toString $seconds) "/bin/sh" "-c" $script "model-download") | nindent 2 }}
args:
  {{- toYaml $command | nindent 2 }}
env:
  {{- toYaml $env | nindent 2 }}
resources:
  limits:
    {{- toYaml $limits | nindent 4 }}
  requests:
    {{- toYaml $requests | nindent 4 }}
securityContext:
  {{- toYaml .Values.containerSecurityContext | nindent 2 }}
volumeMounts:
  - name: models
    mountPath: {{ .Values.storage.mountPath | quote }}
  - name: download-tmp
    mountPath: /tmp
{{- end -}}
