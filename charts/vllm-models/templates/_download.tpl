{{/* vllm-models.downloadEnabled: "true" when an init container fetches the weights before vLLM starts (storage.download.enabled). */}}
{{- define "vllm-models.downloadEnabled" -}}
{{- eq (toString .Values.storage.download.enabled) "true" -}}
{{- end -}}

{{/* vllm-models.downloadWorkloadIdentity: "true" when an S3 download takes its AWS credentials from the pods' ServiceAccount (storage.download.s3.auth irsa or eksPodIdentity) instead of a key Secret. */}}
{{- define "vllm-models.downloadWorkloadIdentity" -}}
{{- $dl := .Values.storage.download -}}
{{- and (eq (include "vllm-models.downloadEnabled" .) "true") (eq $dl.source "s3") (ne ($dl.s3.auth | default "secret") "secret") -}}
{{- end -}}

{{/* vllm-models.downloadAttemptSeconds: the longest one init container's download may take, in seconds (0: nothing is downloaded); defaults to the startup budget. */}}
{{- define "vllm-models.downloadAttemptSeconds" -}}
{{- if eq (include "vllm-models.downloadEnabled" .) "true" -}}
{{- .Values.storage.download.timeoutSeconds | default (include "vllm-models.startupBudgetSeconds" .) | int -}}
{{- else -}}
0
{{- end -}}
{{- end -}}

{{/* vllm-models.downloadSeconds: the longest the downloads may take before vLLM starts, in seconds: one attempt's limit for each init container (the weights, each fetched adapter), which run one after another. */}}
{{- define "vllm-models.downloadSeconds" -}}
{{- mul (include "vllm-models.downloadAttemptSeconds" . | int) (len (include "vllm-models.downloadItems" . | fromYamlArray)) -}}
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

{{/* vllm-models.downloadSourceId: what a complete copy records in its marker, the source and its revision (a different one downloads again); of the weights, or of one adapter (dict "root" $ "item" adapter). */}}
{{- define "vllm-models.downloadSourceId" -}}
{{- $item := .item | default .root.Values.storage.download -}}
{{- if eq $item.source "s3" -}}
{{- $item.s3.uri -}}{{ with .root.Values.storage.download.s3.endpoint }} at {{ . }}{{ end -}}
{{- else -}}
{{- printf "hf://%s" $item.huggingface.repo -}}{{ with $item.huggingface.revision }}@{{ . }}{{ end -}}
{{- end -}}
{{- end -}}

{{/* vllm-models.downloadItems: what init containers fetch before vLLM starts, in order, as a YAML list of {container, target, item}: the weights (storage.download), then each adapter with a source (lora.adapters), with the download's image and credentials. */}}
{{- define "vllm-models.downloadItems" -}}
{{- $items := list -}}
{{- if eq (include "vllm-models.downloadEnabled" .) "true" -}}
{{- $items = append $items (dict "container" "model-download" "target" .Values.deployment.model "item" .Values.storage.download) -}}
{{- if .Values.lora.enabled -}}
{{- range $index, $adapter := .Values.lora.adapters -}}
{{- if $adapter.source -}}
{{- $items = append $items (dict "container" (printf "lora-download-%d" $index) "target" $adapter.path "item" $adapter) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- toYaml $items -}}
{{- end -}}

{{/* vllm-models.downloadContainer: an init container that fetches one download item (vllm-models.downloadItems) into its target (files/model-download.sh), as YAML (dict "root" $ "fetch" item). */}}
{{- define "vllm-models.downloadContainer" -}}
{{- $fetch := .fetch -}}
{{- $item := $fetch.item -}}
{{- with .root -}}
{{- $dl := .Values.storage.download -}}
{{- $target := trimSuffix "/" $fetch.target -}}
{{- $partial := printf "%s.partial" $target -}}
{{- $seconds := include "vllm-models.downloadAttemptSeconds" . | int -}}
{{- $env := list (dict "name" "MODEL_DIR" "value" $target) (dict "name" "SOURCE_ID" "value" (include "vllm-models.downloadSourceId" (dict "root" . "item" $item))) -}}
{{- /* A lock older than one attempt's time limit outlived the pod that took it. */ -}}
{{- $env = append $env (dict "name" "LOCK_STALE_MINUTES" "value" (toString (add1 (div (add $seconds 59) 60)))) -}}
{{- $env = append $env (dict "name" "POD_NAME" "valueFrom" (dict "fieldRef" (dict "fieldPath" "metadata.name"))) -}}
{{- $env = append $env (dict "name" "POD_UID" "valueFrom" (dict "fieldRef" (dict "fieldPath" "metadata.uid"))) -}}
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
{{- /* --delete: the partial directory is the sync's alone, and a killed attempt leaves its half-written
       NAME.XXXXXXXX temporary files there (s3transfer renames them only when complete); the next attempt
       removes them instead of moving them into the model's directory. */ -}}
{{- $command = list "aws" "s3" "sync" $item.s3.uri $partial "--delete" "--no-progress" "--only-show-errors" -}}
{{- with $s3.endpoint -}}
{{- /* An S3-compatible store: no EC2 instance metadata to ask for credentials (seed 002's awsEc2MetadataDisabled). */ -}}
{{- $env = append $env (dict "name" "AWS_EC2_METADATA_DISABLED" "value" "true") -}}
{{- $command = concat $command (list "--endpoint-url" .) -}}
{{- end -}}
{{- else -}}
{{- $hf := $item.huggingface -}}
{{- with $.root.Values.huggingface.tokenSecret.name -}}
{{- $env = append $env (dict "name" "HF_TOKEN" "valueFrom" (dict "secretKeyRef" (dict "name" . "key" $.root.Values.huggingface.tokenSecret.key))) -}}
{{- end -}}
{{- $env = concat $env (list (dict "name" "HF_HOME" "value" "/tmp/huggingface") (dict "name" "HF_HUB_DISABLE_TELEMETRY" "value" "1")) -}}
{{- /* huggingface_hub's snapshot_download (the API `hf download` calls): the same in every release
       from 0.34 on, where the CLI's --include changed form (argparse, then typer). */ -}}
{{- $python := "import json, sys\nfrom huggingface_hub import snapshot_download\nrepo, revision, target, patterns = sys.argv[1:5]\nsnapshot_download(repo_id=repo, revision=revision or None, local_dir=target, allow_patterns=json.loads(patterns) or None)" -}}
{{- $command = list "python3" "-c" $python $hf.repo ($hf.revision | default "") $partial ($hf.include | default list | toJson) -}}
{{- end -}}
{{- $limits := $dl.resources.limits -}}
{{- $requests := merge (dict) ($dl.resources.requests | default dict) $limits -}}
{{- $script := regexReplaceAll "(?m)^#.*\n" (.Files.Get "files/model-download.sh") "" -}}
name: {{ $fetch.container }}
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
{{- end -}}
