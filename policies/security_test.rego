package main

# --- image_tag_pinned ---

test_image_tag_pinned_passes_on_a_registry_with_a_port_and_a_tag if {
	d := json.patch(fixture_deployment, [{"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": "registry.local:5000/vllm/vllm-openai:v0.11.0"}])
	count(deny_image_tag_pinned) == 0 with data.main.objects as [d]
}

test_image_tag_pinned_passes_on_a_digest if {
	d := json.patch(fixture_deployment, [{"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": "vllm/vllm-openai@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}])
	count(deny_image_tag_pinned) == 0 with data.main.objects as [d]
}

test_image_tag_pinned_fails_on_latest if {
	d := json.patch(fixture_deployment, [{"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": "vllm/vllm-openai:latest"}])
	deny_image_tag_pinned == {"[image_tag_pinned] Deployment llms-v2-demo container vllm: image vllm/vllm-openai:latest is not pinned to a release; set a tag such as v0.11.0 (image.tag or global.image.tag) or a digest"} with data.main.objects as [d]
}

test_image_tag_pinned_fails_without_a_tag_behind_a_registry_port if {
	d := json.patch(fixture_deployment, [{"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": "registry.local:5000/vllm-openai"}])
	deny_image_tag_pinned == {"[image_tag_pinned] Deployment llms-v2-demo container vllm: image registry.local:5000/vllm-openai is not pinned to a release; set a tag such as v0.11.0 (image.tag or global.image.tag) or a digest"} with data.main.objects as [d]
}

# --- privileged ---

test_privileged_passes_on_an_unprivileged_container if {
	count(deny_privileged) == 0 with data.main.objects as fixture_release
}

test_privileged_fails_on_a_privileged_container if {
	d := json.patch(fixture_deployment, [{"op": "add", "path": "/spec/template/spec/containers/0/securityContext/privileged", "value": true}])
	deny_privileged == {"[privileged] Deployment llms-v2-demo container vllm: runs privileged; remove securityContext.privileged (dropPageCache.enabled needs it: declare that in policies/exceptions.yaml with a reason)"} with data.main.objects as [d]
}

# --- host_namespaces ---

test_host_namespaces_passes_when_set_to_false if {
	d := json.patch(fixture_deployment, [{"op": "add", "path": "/spec/template/spec/hostNetwork", "value": false}])
	count(deny_host_namespaces) == 0 with data.main.objects as [d]
}

test_host_namespaces_fails_on_the_host_pid_namespace if {
	d := json.patch(fixture_deployment, [{"op": "add", "path": "/spec/template/spec/hostPID", "value": true}])
	deny_host_namespaces == {"[host_namespaces] Deployment llms-v2-demo: sets hostPID: true and shares the node's namespace; remove it (dropPageCache.enabled sets hostPID: declare that in policies/exceptions.yaml with a reason)"} with data.main.objects as [d]
}

# --- host_port ---

test_host_port_passes_without_host_ports if {
	count(deny_host_port) == 0 with data.main.objects as fixture_release
}

test_host_port_fails_on_a_host_port if {
	d := json.patch(fixture_deployment, [{"op": "add", "path": "/spec/template/spec/containers/0/ports/0/hostPort", "value": 8000}])
	deny_host_port == {"[host_port] Deployment llms-v2-demo container vllm: port http binds hostPort 8000 on the node; remove hostPort and reach the model through its Service"} with data.main.objects as [d]
}

# --- added_capabilities ---

test_added_capabilities_passes_on_an_empty_add_list if {
	d := json.patch(fixture_deployment, [{"op": "add", "path": "/spec/template/spec/containers/0/securityContext/capabilities/add", "value": []}])
	count(deny_added_capabilities) == 0 with data.main.objects as [d]
}

test_added_capabilities_fails_on_sys_ptrace if {
	d := json.patch(fixture_deployment, [{"op": "add", "path": "/spec/template/spec/containers/0/securityContext/capabilities/add", "value": ["SYS_PTRACE"]}])
	deny_added_capabilities == {"[added_capabilities] Deployment llms-v2-demo container vllm: adds capabilities SYS_PTRACE; remove containerSecurityContext.capabilities.add (declare a debugging need in policies/exceptions.yaml)"} with data.main.objects as [d]
}

# --- privilege_escalation ---

test_privilege_escalation_passes_when_disabled if {
	count(deny_privilege_escalation) == 0 with data.main.objects as fixture_release
}

test_privilege_escalation_fails_when_left_to_the_default if {
	d := json.patch(fixture_deployment, [{"op": "remove", "path": "/spec/template/spec/containers/0/securityContext/allowPrivilegeEscalation"}])
	deny_privilege_escalation == {"[privilege_escalation] Deployment llms-v2-demo container vllm: allowPrivilegeEscalation is unset (defaults to true); set containerSecurityContext.allowPrivilegeEscalation: false"} with data.main.objects as [d]
}

test_privilege_escalation_fails_when_allowed if {
	d := json.patch(fixture_deployment, [{"op": "replace", "path": "/spec/template/spec/containers/0/securityContext/allowPrivilegeEscalation", "value": true}])
	deny_privilege_escalation == {"[privilege_escalation] Deployment llms-v2-demo container vllm: allowPrivilegeEscalation is true; set containerSecurityContext.allowPrivilegeEscalation: false"} with data.main.objects as [d]
}

# --- seccomp ---

test_seccomp_passes_when_set_on_the_container_only if {
	d := json.patch(fixture_deployment, [
		{"op": "remove", "path": "/spec/template/spec/securityContext/seccompProfile"},
		{"op": "add", "path": "/spec/template/spec/containers/0/securityContext/seccompProfile", "value": {"type": "RuntimeDefault"}},
	])
	count(deny_seccomp) == 0 with data.main.objects as [d]
}

test_seccomp_fails_without_a_profile if {
	d := json.patch(fixture_deployment, [{"op": "remove", "path": "/spec/template/spec/securityContext/seccompProfile"}])
	deny_seccomp == {"[seccomp] Deployment llms-v2-demo container vllm: seccomp profile is unset; set securityContext.seccompProfile.type: RuntimeDefault"} with data.main.objects as [d]
}

test_seccomp_fails_when_a_container_opts_out if {
	d := json.patch(fixture_deployment, [{"op": "add", "path": "/spec/template/spec/containers/0/securityContext/seccompProfile", "value": {"type": "Unconfined"}}])
	deny_seccomp == {"[seccomp] Deployment llms-v2-demo container vllm: seccomp profile is Unconfined; set securityContext.seccompProfile.type: RuntimeDefault"} with data.main.objects as [d]
}

# --- drop_all_capabilities ---

test_drop_all_capabilities_passes_when_all_are_dropped if {
	count(deny_drop_all_capabilities) == 0 with data.main.objects as fixture_release
}

test_drop_all_capabilities_fails_when_only_some_are_dropped if {
	d := json.patch(fixture_deployment, [{"op": "replace", "path": "/spec/template/spec/containers/0/securityContext/capabilities/drop", "value": ["NET_RAW"]}])
	deny_drop_all_capabilities == {"[drop_all_capabilities] Deployment llms-v2-demo container vllm: does not drop ALL capabilities; set containerSecurityContext.capabilities.drop: [ALL]"} with data.main.objects as [d]
}

# --- service_account_token ---

test_service_account_token_passes_when_never_mounted if {
	count(deny_service_account_token) == 0 with data.main.objects as fixture_release
}

test_service_account_token_fails_when_the_pod_mounts_it if {
	d := json.patch(fixture_deployment, [{"op": "remove", "path": "/spec/template/spec/automountServiceAccountToken"}])
	deny_service_account_token == {"[service_account_token] Deployment llms-v2-demo: mounts a service account token (automountServiceAccountToken is not false); set automountServiceAccountToken: false in the pod spec"} with data.main.objects as [d]
}

test_service_account_token_fails_when_the_service_account_mounts_it if {
	a := json.patch(fixture_service_account, [{"op": "replace", "path": "/automountServiceAccountToken", "value": true}])
	deny_service_account_token == {"[service_account_token] ServiceAccount llms-v2-demo: automountServiceAccountToken is not false, so every pod using it gets an API token; set automountServiceAccountToken: false"} with data.main.objects as [a]
}

test_service_account_token_is_not_excepted_for_a_cloud_role if {
	# The role's token comes from EKS's webhook (its own projected volume): the API token stays off.
	count(deny_service_account_token) == 0 with data.main.objects as [role_account, role_deployment(["vllm"])]
	a := json.patch(role_account, [{"op": "replace", "path": "/automountServiceAccountToken", "value": true}])
	deny_service_account_token == {"[service_account_token] ServiceAccount llms-v2-demo: automountServiceAccountToken is not false, so every pod using it gets an API token; set automountServiceAccountToken: false"} with data.main.objects as [a, role_deployment(["vllm"])]
}

# --- cloud_role_scope ---

role_arn := "arn:aws:iam::111122223333:role/model-reader"

role_account := json.patch(fixture_service_account, [{"op": "add", "path": "/metadata/annotations", "value": {data.rules.workloadIdentity.roleAnnotation: role_arn}}])

# fixture_deployment with the weights download as an init container and the webhook told to skip `skipped`.
role_deployment(skipped) := json.patch(fixture_deployment, [
	{"op": "add", "path": "/spec/template/spec/initContainers", "value": [{"name": "model-download", "image": "amazon/aws-cli:2.36.7"}]},
	{"op": "add", "path": concat("/", ["/spec/template/metadata/annotations", replace(data.rules.workloadIdentity.skipContainersAnnotation, "/", "~1")]), "value": concat(",", skipped)},
])

test_cloud_role_scope_passes_without_a_role if {
	count(deny_cloud_role_scope) == 0 with data.main.objects as fixture_release
}

test_cloud_role_scope_passes_when_every_container_is_skipped if {
	count(deny_cloud_role_scope) == 0 with data.main.objects as [role_account, role_deployment(["vllm"])]
	count(deny_cloud_role_scope) == 0 with data.main.objects as [role_account, role_deployment(["model-download", " vllm"])]
}

test_cloud_role_scope_passes_for_a_pod_of_another_account if {
	d := json.patch(role_deployment([]), [{"op": "replace", "path": "/spec/template/spec/serviceAccountName", "value": "other"}])
	count(deny_cloud_role_scope) == 0 with data.main.objects as [role_account, d]
}

test_cloud_role_scope_fails_when_vllm_is_not_skipped if {
	msg := "[cloud_role_scope] Deployment llms-v2-demo: ServiceAccount llms-v2-demo carries the IAM role arn:aws:iam::111122223333:role/model-reader (eks.amazonaws.com/role-arn), which EKS's webhook gives to every container the pod annotation eks.amazonaws.com/skip-containers does not name, so container vllm would hold it; name it there (the chart does when serviceAccount.annotations holds the role)"
	deny_cloud_role_scope == {msg} with data.main.objects as [role_account, role_deployment(["model-download"])]
	deny_cloud_role_scope == {msg} with data.main.objects as [role_account, json.patch(fixture_deployment, [{"op": "add", "path": "/spec/template/spec/initContainers", "value": [{"name": "model-download"}]}])]
}

# --- env_secret_literals ---

test_env_secret_literals_passes_on_token_limits_and_secret_references if {
	d := json.patch(fixture_deployment, [{"op": "add", "path": "/spec/template/spec/containers/0/env/-", "value": {"name": "VLLM_MAX_TOKENS", "value": "4096"}}])
	count(deny_env_secret_literals) == 0 with data.main.objects as [d]
}

test_env_secret_literals_fails_on_a_literal_hugging_face_token if {
	d := json.patch(fixture_deployment, [{"op": "replace", "path": "/spec/template/spec/containers/0/env/1", "value": {"name": "HF_TOKEN", "value": "hf_xxxxxxxxxxxxx"}}])
	deny_env_secret_literals == {"[env_secret_literals] Deployment llms-v2-demo container vllm: env HF_TOKEN has a literal value that looks like a credential (value withheld); reference a Secret with valueFrom.secretKeyRef (huggingface.tokenSecret for HF_TOKEN)"} with data.main.objects as [d]
}

test_env_secret_literals_fails_on_a_token_under_an_innocent_name if {
	d := json.patch(fixture_deployment, [{"op": "add", "path": "/spec/template/spec/containers/0/env/-", "value": {"name": "EXTRA", "value": "hf_abcdefghijklmnopqrstuvwxyz012345"}}])
	deny_env_secret_literals == {"[env_secret_literals] Deployment llms-v2-demo container vllm: env EXTRA has a literal value that looks like a credential (value withheld); reference a Secret with valueFrom.secretKeyRef (huggingface.tokenSecret for HF_TOKEN)"} with data.main.objects as [d]
}

# --- host_path ---

test_host_path_passes_for_the_read_only_model_directory if {
	count(deny_host_path) == 0 with data.main.objects as fixture_release
}

test_host_path_fails_when_the_model_directory_is_writable if {
	d := json.patch(fixture_deployment, [{"op": "remove", "path": "/spec/template/spec/containers/0/volumeMounts/0/readOnly"}])
	deny_host_path == {"[host_path] Deployment llms-v2-demo container vllm: hostPath /var/modas-models/fp8_models/ (volume models) is mounted writable at /models; mount it readOnly: true"} with data.main.objects as [d]
}

test_host_path_fails_for_a_host_directory_that_holds_no_served_model if {
	d := json.patch(fixture_deployment, [
		{"op": "add", "path": "/spec/template/spec/volumes/-", "value": {"name": "docker", "hostPath": {"path": "/var/run/docker.sock"}}},
		{"op": "add", "path": "/spec/template/spec/containers/0/volumeMounts/-", "value": {"name": "docker", "mountPath": "/var/run/docker.sock", "readOnly": true}},
	])
	deny_host_path == {"[host_path] Deployment llms-v2-demo: hostPath /var/run/docker.sock (volume docker) is not the directory of a served model; only the model directory may come from the host (storage.type, hps.models.path)"} with data.main.objects as [d]
}

test_host_path_fails_when_the_model_is_served_from_elsewhere if {
	d := json.patch(fixture_deployment, [{"op": "replace", "path": "/spec/template/spec/containers/0/args/0", "value": "Qwen/Qwen3-32B"}])
	deny_host_path == {"[host_path] Deployment llms-v2-demo: hostPath /var/modas-models/fp8_models/ (volume models) is not the directory of a served model; only the model directory may come from the host (storage.type, hps.models.path)"} with data.main.objects as [d]
}

# --- written_volume_writable ---

# The weights download of storage.download: an init container that writes the model volume.
fixture_downloading(volume) := json.patch(fixture_deployment, [
	{"op": "replace", "path": "/spec/template/spec/volumes/0", "value": volume},
	{"op": "add", "path": "/spec/template/spec/initContainers", "value": [{"name": "model-download", "image": "amazon/aws-cli:2.22.35", "volumeMounts": [{"name": "models", "mountPath": "/models"}]}]},
])

test_written_volume_writable_passes_for_the_charts_read_only_mounts if {
	count(deny_written_volume_writable) == 0 with data.main.objects as fixture_release
}

test_written_volume_writable_passes_for_a_download_into_an_existing_host_directory if {
	d := fixture_downloading({"name": "models", "hostPath": {"path": "/var/modas-models/fp8_models/", "type": "Directory"}})
	count(deny_written_volume_writable) == 0 with data.main.objects as [d]
}

test_written_volume_writable_fails_for_a_non_root_download_into_a_host_directory_the_kubelet_creates if {
	d := fixture_downloading({"name": "models", "hostPath": {"path": "/var/modas-models/fp8_models/", "type": "DirectoryOrCreate"}})
	deny_written_volume_writable == {"[written_volume_writable] Deployment llms-v2-demo container model-download: mounts volume models writable at /models, but hostPath /var/modas-models/fp8_models/ has type DirectoryOrCreate: the kubelet creates it root-owned 0755, which UID 2000 cannot write; use type Directory and create the directory on each node writable by UID 2000 or group 0 (the chart does; chart README, storage.download)"} with data.main.objects as [d]
}

test_written_volume_writable_passes_for_a_root_download_into_a_host_directory_the_kubelet_creates if {
	d := json.patch(fixture_downloading({"name": "models", "hostPath": {"path": "/var/modas-models/fp8_models/", "type": "DirectoryOrCreate"}}), [
		{"op": "add", "path": "/spec/template/spec/initContainers/0/securityContext", "value": {"runAsUser": 0}},
	])
	count(deny_written_volume_writable) == 0 with data.main.objects as [d]
}

test_written_volume_writable_passes_when_a_created_host_directory_is_only_read if {
	d := json.patch(fixture_downloading({"name": "models", "hostPath": {"path": "/var/modas-models/fp8_models/", "type": "DirectoryOrCreate"}}), [
		{"op": "add", "path": "/spec/template/spec/initContainers/0/volumeMounts/0/readOnly", "value": true},
	])
	count(deny_written_volume_writable) == 0 with data.main.objects as [d]
}

test_written_volume_writable_fails_for_a_download_into_a_claim_declared_read_only if {
	d := fixture_downloading({"name": "models", "persistentVolumeClaim": {"claimName": "models", "readOnly": true}})
	deny_written_volume_writable == {"[written_volume_writable] Deployment llms-v2-demo container model-download: mounts volume models writable at /models, but the claim is declared readOnly (persistentVolumeClaim.readOnly), which makes every mount of it read-only; declare readOnly on the mounts that only read (the chart does when storage.download is on)"} with data.main.objects as [d]
}

test_written_volume_writable_passes_for_a_download_into_a_writable_claim if {
	d := fixture_downloading({"name": "models", "persistentVolumeClaim": {"claimName": "models", "readOnly": false}})
	count(deny_written_volume_writable) == 0 with data.main.objects as [d]
}

# --- run_as_non_root ---

test_run_as_non_root_passes_on_the_charts_non_root_pod if {
	count(deny_run_as_non_root) == 0 with data.main.objects as fixture_release
}

test_run_as_non_root_passes_when_every_container_sets_it_instead_of_the_pod if {
	d := json.patch(fixture_deployment, [
		{"op": "remove", "path": "/spec/template/spec/securityContext/runAsNonRoot"},
		{"op": "add", "path": "/spec/template/spec/containers/0/securityContext/runAsNonRoot", "value": true},
	])
	count(deny_run_as_non_root) == 0 with data.main.objects as [d]
}

test_run_as_non_root_fails_when_the_container_overrides_the_pod_with_false if {
	d := json.patch(fixture_deployment, [{"op": "add", "path": "/spec/template/spec/containers/0/securityContext/runAsNonRoot", "value": false}])
	deny_run_as_non_root == {"[run_as_non_root] Deployment llms-v2-demo container vllm: runAsNonRoot is false, so it may run as root; set securityContext.runAsNonRoot: true and a non-zero securityContext.runAsUser (the chart's default is 2000), or declare why this release needs root (dropPageCache.enabled does) in policies/exceptions.yaml"} with data.main.objects as [d]
}

test_run_as_non_root_fails_when_unset if {
	d := json.patch(fixture_deployment, [{"op": "remove", "path": "/spec/template/spec/securityContext/runAsNonRoot"}])
	deny_run_as_non_root == {"[run_as_non_root] Deployment llms-v2-demo container vllm: runAsNonRoot is unset, so it may run as root; set securityContext.runAsNonRoot: true and a non-zero securityContext.runAsUser (the chart's default is 2000), or declare why this release needs root (dropPageCache.enabled does) in policies/exceptions.yaml"} with data.main.objects as [d]
}

test_run_as_non_root_fails_on_uid_0_in_the_container if {
	d := json.patch(fixture_deployment, [{"op": "add", "path": "/spec/template/spec/containers/0/securityContext/runAsUser", "value": 0}])
	deny_run_as_non_root == {"[run_as_non_root] Deployment llms-v2-demo container vllm: runs as UID 0 (runAsUser: 0); set securityContext.runAsNonRoot: true and a non-zero securityContext.runAsUser (the chart's default is 2000), or declare why this release needs root (dropPageCache.enabled does) in policies/exceptions.yaml"} with data.main.objects as [d]
}

test_run_as_non_root_passes_on_uid_1 if {
	d := json.patch(fixture_deployment, [{"op": "replace", "path": "/spec/template/spec/securityContext/runAsUser", "value": 1}])
	count(deny_run_as_non_root) == 0 with data.main.objects as [d]
}

# --- read_only_root_filesystem ---

test_read_only_root_filesystem_passes_on_the_reference_release if {
	count(deny_read_only_root_filesystem) == 0 with data.main.objects as fixture_release
}

test_read_only_root_filesystem_fails_on_a_writable_image if {
	d := json.patch(fixture_deployment, [{"op": "replace", "path": "/spec/template/spec/containers/0/securityContext/readOnlyRootFilesystem", "value": false}])
	deny_read_only_root_filesystem == {"[read_only_root_filesystem] Deployment llms-v2-demo container vllm: readOnlyRootFilesystem is false, so a compromised process can change the image's files; set containerSecurityContext.readOnlyRootFilesystem: true (vLLM writes only below the runtime volumes)"} with data.main.objects as [d]
}

test_read_only_root_filesystem_fails_when_unset_on_the_test_pod if {
	p := json.patch(fixture_test_pod, [{"op": "remove", "path": "/spec/containers/0/securityContext/readOnlyRootFilesystem"}])
	deny_read_only_root_filesystem == {"[read_only_root_filesystem] Pod llms-v2-demo-test container list-models: readOnlyRootFilesystem is unset, so a compromised process can change the image's files; set containerSecurityContext.readOnlyRootFilesystem: true (vLLM writes only below the runtime volumes)"} with data.main.objects as [p]
}

# --- runtime_dirs_writable ---

test_runtime_dirs_writable_passes_on_the_reference_release if {
	count(deny_runtime_dirs_writable) == 0 with data.main.objects as fixture_release
}

test_runtime_dirs_writable_passes_on_a_cache_exactly_at_a_mount if {
	d := json.patch(fixture_deployment, [{"op": "add", "path": "/spec/template/spec/containers/0/volumeMounts/-", "value": {"name": "cache", "mountPath": "/home/vllm/.cache/vllm"}}])
	count(deny_runtime_dirs_writable) == 0 with data.main.objects as [d]
}

test_runtime_dirs_writable_fails_without_user if {
	d := json.patch(fixture_deployment, [{"op": "remove", "path": "/spec/template/spec/containers/0/env/3"}])
	deny_runtime_dirs_writable == {"[runtime_dirs_writable] Deployment llms-v2-demo container vllm: env USER is not set; an arbitrary UID has no /etc/passwd entry and torch's getpass.getuser() fails without it (vllm#44548): set it (the chart sets runtime.userName)"} with data.main.objects as [d]
}

test_runtime_dirs_writable_fails_on_a_cache_on_the_read_only_image if {
	d := json.patch(fixture_deployment, [{"op": "replace", "path": "/spec/template/spec/containers/0/env/7", "value": {"name": "VLLM_CACHE_ROOT", "value": "/root/.cache/vllm"}}])
	deny_runtime_dirs_writable == {"[runtime_dirs_writable] Deployment llms-v2-demo container vllm: env VLLM_CACHE_ROOT is /root/.cache/vllm, which is not below a writable volumeMount (writable mounts: /dev/shm, /home/vllm, /tmp); vLLM writes there, so point it into a writable emptyDir or claim (the chart's runtime.home.path)"} with data.main.objects as [d]
}

test_runtime_dirs_writable_fails_on_a_sibling_that_only_shares_the_prefix if {
	d := json.patch(fixture_deployment, [{"op": "replace", "path": "/spec/template/spec/containers/0/env/2", "value": {"name": "HOME", "value": "/home/vllm2"}}])
	deny_runtime_dirs_writable == {"[runtime_dirs_writable] Deployment llms-v2-demo container vllm: env HOME is /home/vllm2, which is not below a writable volumeMount (writable mounts: /dev/shm, /home/vllm, /tmp); vLLM writes there, so point it into a writable emptyDir or claim (the chart's runtime.home.path)"} with data.main.objects as [d]
}

test_runtime_dirs_writable_fails_on_a_read_only_home_and_an_unset_cache if {
	d := json.patch(fixture_deployment, [
		{"op": "add", "path": "/spec/template/spec/containers/0/volumeMounts/2/readOnly", "value": true},
		{"op": "remove", "path": "/spec/template/spec/containers/0/env/8"},
	])
	deny_runtime_dirs_writable == {
		"[runtime_dirs_writable] Deployment llms-v2-demo container vllm: env HOME is /home/vllm, which is not below a writable volumeMount (writable mounts: /dev/shm, /tmp); vLLM writes there, so point it into a writable emptyDir or claim (the chart's runtime.home.path)",
		"[runtime_dirs_writable] Deployment llms-v2-demo container vllm: env XDG_CACHE_HOME is /home/vllm/.cache, which is not below a writable volumeMount (writable mounts: /dev/shm, /tmp); vLLM writes there, so point it into a writable emptyDir or claim (the chart's runtime.home.path)",
		"[runtime_dirs_writable] Deployment llms-v2-demo container vllm: env XDG_CONFIG_HOME is /home/vllm/.config, which is not below a writable volumeMount (writable mounts: /dev/shm, /tmp); vLLM writes there, so point it into a writable emptyDir or claim (the chart's runtime.home.path)",
		"[runtime_dirs_writable] Deployment llms-v2-demo container vllm: env VLLM_CACHE_ROOT is /home/vllm/.cache/vllm, which is not below a writable volumeMount (writable mounts: /dev/shm, /tmp); vLLM writes there, so point it into a writable emptyDir or claim (the chart's runtime.home.path)",
		"[runtime_dirs_writable] Deployment llms-v2-demo container vllm: env TRITON_CACHE_DIR is unset, which is not below a writable volumeMount (writable mounts: /dev/shm, /tmp); vLLM writes there, so point it into a writable emptyDir or claim (the chart's runtime.home.path)",
	} with data.main.objects as [d]
}

test_runtime_dirs_writable_fails_without_a_tmp_mount if {
	d := json.patch(fixture_deployment, [{"op": "remove", "path": "/spec/template/spec/containers/0/volumeMounts/3"}])
	deny_runtime_dirs_writable == {"[runtime_dirs_writable] Deployment llms-v2-demo container vllm: /tmp is not a writable volumeMount (writable mounts: /dev/shm, /home/vllm); vLLM writes there, so mount an emptyDir at it"} with data.main.objects as [d]
}

# --- image_digest ---

digest_image := "vllm/vllm-openai:v0.11.0@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

test_image_digest_passes_on_tags_outside_production if {
	count(deny_image_digest) == 0 with data.main.objects as fixture_release with data.main.target as {"environment": "staging", "release": "llms-v2-demo"}
}

test_image_digest_passes_on_an_environment_that_only_contains_the_word if {
	count(deny_image_digest) == 0 with data.main.objects as fixture_release with data.main.target as {"environment": "pre-production", "release": "llms-v2-demo"}
}

test_image_digest_passes_on_digests_in_production if {
	d := json.patch(fixture_deployment, [{"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": digest_image}])
	count(deny_image_digest) == 0 with data.main.objects as [d] with data.main.target as {"environment": "production-vn", "release": "llms-v2-demo"}
}

test_image_digest_fails_on_a_tag_in_production if {
	deny_image_digest == {"[image_digest] Deployment llms-v2-demo container vllm: image vllm/vllm-openai:v0.11.0 has no digest, and environment production runs only images pinned by digest (rules.yaml images.digestEnvironments): a tag can be moved to other content; set image.digest (helmTest.image for the test pod) to the sha256 the registry gives for that tag, or declare in policies/exceptions.yaml why not"} with data.main.objects as [fixture_deployment] with data.main.target as {"environment": "production", "release": "llms-v2-demo"}
}

test_image_digest_fails_on_the_test_pod_too if {
	d := json.patch(fixture_deployment, [{"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": digest_image}])
	deny_image_digest == {"[image_digest] Pod llms-v2-demo-test container list-models: image curlimages/curl:8.11.1 has no digest, and environment production-jp runs only images pinned by digest (rules.yaml images.digestEnvironments): a tag can be moved to other content; set image.digest (helmTest.image for the test pod) to the sha256 the registry gives for that tag, or declare in policies/exceptions.yaml why not"} with data.main.objects as [d, fixture_test_pod] with data.main.target as {"environment": "production-jp", "release": "llms-v2-demo"}
}

# --- trust_remote_code ---

test_trust_remote_code_passes_without_the_flag if {
	count(deny_trust_remote_code) == 0 with data.main.objects as fixture_release
}

test_trust_remote_code_passes_on_the_flag_with_a_reason if {
	d := json.patch(fixture_deployment, [
		{"op": "add", "path": "/spec/template/spec/containers/0/args/-", "value": "--trust-remote-code"},
		{"op": "add", "path": "/metadata/annotations/vllm-models.io~1trust-remote-code", "value": "InternVLChatModel: no native config type in transformers 4.56"},
	])
	count(deny_trust_remote_code) == 0 with data.main.objects as [d]
}

test_trust_remote_code_fails_on_the_flag_without_a_reason if {
	d := json.patch(fixture_deployment, [{"op": "add", "path": "/spec/template/spec/containers/0/args/-", "value": "--trust_remote_code"}])
	deny_trust_remote_code == {"[trust_remote_code] Deployment llms-v2-demo container vllm: runs --trust_remote_code (Python shipped with the weights runs in the server) without a reason in annotation vllm-models.io/trust-remote-code; set deployment.trustRemoteCode: false unless the architecture has no native vLLM or transformers implementation, and then name it in deployment.trustRemoteCodeReason"} with data.main.objects as [d]
}

test_trust_remote_code_fails_on_a_blank_reason if {
	d := json.patch(fixture_deployment, [
		{"op": "add", "path": "/spec/template/spec/containers/0/args/-", "value": "--trust-remote-code"},
		{"op": "add", "path": "/metadata/annotations/vllm-models.io~1trust-remote-code", "value": "  "},
	])
	deny_trust_remote_code == {"[trust_remote_code] Deployment llms-v2-demo container vllm: runs --trust-remote-code (Python shipped with the weights runs in the server) without a reason in annotation vllm-models.io/trust-remote-code; set deployment.trustRemoteCode: false unless the architecture has no native vLLM or transformers implementation, and then name it in deployment.trustRemoteCodeReason"} with data.main.objects as [d]
}

# --- env_secret_source ---

test_env_secret_source_passes_on_a_secret_reference if {
	count(deny_env_secret_source) == 0 with data.main.objects as fixture_release
}

test_env_secret_source_passes_on_a_field_reference_with_an_ordinary_name if {
	d := json.patch(fixture_deployment, [{"op": "add", "path": "/spec/template/spec/containers/0/env/-", "value": {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}}])
	count(deny_env_secret_source) == 0 with data.main.objects as [d]
}

test_env_secret_source_fails_on_a_token_from_a_config_map if {
	d := json.patch(fixture_deployment, [{"op": "replace", "path": "/spec/template/spec/containers/0/env/1", "value": {"name": "HF_TOKEN", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "token"}}}}])
	deny_env_secret_source == {"[env_secret_source] Deployment llms-v2-demo container vllm: env HF_TOKEN looks like a credential but takes its value from configMapKeyRef; a credential comes only from a Secret: use valueFrom.secretKeyRef (huggingface.tokenSecret for HF_TOKEN)"} with data.main.objects as [d]
}

# --- offline_local_weights ---

test_offline_local_weights_passes_on_the_reference_release if {
	count(deny_offline_local_weights) == 0 with data.main.objects as fixture_release
}

test_offline_local_weights_passes_on_a_hugging_face_id_without_offline_mode if {
	d := json.patch(fixture_deployment, [
		{"op": "replace", "path": "/spec/template/spec/containers/0/args/0", "value": "demo/Demo-34B-FP8"},
		{"op": "remove", "path": "/spec/template/spec/containers/0/env/11"},
		{"op": "remove", "path": "/spec/template/spec/containers/0/env/10"},
	])
	count(deny_offline_local_weights) == 0 with data.main.objects as [d]
}

test_offline_local_weights_fails_on_a_local_path_left_online if {
	d := json.patch(fixture_deployment, [
		{"op": "replace", "path": "/spec/template/spec/containers/0/env/10/value", "value": "0"},
		{"op": "remove", "path": "/spec/template/spec/containers/0/env/11"},
	])
	deny_offline_local_weights == {
		"[offline_local_weights] Deployment llms-v2-demo container vllm: serves the local path /models/demo/Demo-34B-FP8 but env HF_HUB_OFFLINE is 0; set it to 1 so no Hub call leaves the pod (the chart does for a deployment.model below storage.mountPath)",
		"[offline_local_weights] Deployment llms-v2-demo container vllm: serves the local path /models/demo/Demo-34B-FP8 but env TRANSFORMERS_OFFLINE is unset; set it to 1 so no Hub call leaves the pod (the chart does for a deployment.model below storage.mountPath)",
	} with data.main.objects as [d]
}
