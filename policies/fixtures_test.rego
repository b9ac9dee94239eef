# The reference release every unit test starts from: what the chart renders for a 34B dense
# model on 2 GPUs (tensor parallel 2) with a PDB, NetworkPolicy, ServiceMonitor and helm test
# Pod. It passes every rule; each failing test changes one thing with json.patch.
package main

fixture_labels := {
	"helm.sh/chart": "vllm-models-0.1.0",
	"app.kubernetes.io/name": "vllm-models",
	"app.kubernetes.io/instance": "llms-v2-demo",
	"model": "demo",
	"app.kubernetes.io/version": "v0.11.0",
	"app.kubernetes.io/component": "inference-server",
	"app.kubernetes.io/managed-by": "Helm",
	"app.kubernetes.io/part-of": "vllm-models",
	"vllm-models.io/category": "language",
	"vllm-models.io/architecture": "dense",
	"vllm-models.io/size-class": "medium",
}

fixture_selector := {
	"app.kubernetes.io/name": "vllm-models",
	"app.kubernetes.io/instance": "llms-v2-demo",
	"model": "demo",
}

fixture_deployment := {
	"apiVersion": "apps/v1",
	"kind": "Deployment",
	"metadata": {
		"name": "llms-v2-demo",
		"labels": fixture_labels,
		"annotations": {"vllm-models.io/parameters-billions": "34", "vllm-models.io/served-model-name": "Demo-34B"},
	},
	"spec": {
		"replicas": 1,
		"progressDeadlineSeconds": 1200,
		"selector": {"matchLabels": fixture_selector},
		"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
		"template": {
			"metadata": {"labels": fixture_labels, "annotations": {"vllm-models.io/parameters-billions": "34"}},
			"spec": {
				"serviceAccountName": "llms-v2-demo",
				"automountServiceAccountToken": false,
				"terminationGracePeriodSeconds": 120,
				"securityContext": {"runAsNonRoot": true, "runAsUser": 2000, "runAsGroup": 0, "fsGroup": 0, "seccompProfile": {"type": "RuntimeDefault"}},
				"tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
				"containers": [{
					"name": "vllm",
					"image": "vllm/vllm-openai:v0.11.0",
					"command": ["vllm", "serve"],
					"args": [
						"/models/demo/Demo-34B-FP8", "--served-model-name", "Demo-34B",
						"--host", "0.0.0.0", "--port", "8000",
						"--tensor-parallel-size", "2", "--gpu-memory-utilization", "0.85",
					],
					"env": [
						{"name": "VLLM_LOGGING_LEVEL", "value": "INFO"}, {"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "hf", "key": "token"}}},
						{"name": "HOME", "value": "/home/vllm"}, {"name": "USER", "value": "vllm"}, {"name": "LOGNAME", "value": "vllm"},
						{"name": "XDG_CACHE_HOME", "value": "/home/vllm/.cache"}, {"name": "XDG_CONFIG_HOME", "value": "/home/vllm/.config"},
						{"name": "VLLM_CACHE_ROOT", "value": "/home/vllm/.cache/vllm"}, {"name": "TRITON_CACHE_DIR", "value": "/home/vllm/.cache/vllm/triton"},
						{"name": "VLLM_NO_USAGE_STATS", "value": "1"}, {"name": "HF_HUB_OFFLINE", "value": "1"}, {"name": "TRANSFORMERS_OFFLINE", "value": "1"},
					],
					"ports": [{"name": "http", "containerPort": 8000, "protocol": "TCP"}],
					"startupProbe": {"httpGet": {"path": "/health", "port": "http"}, "initialDelaySeconds": 0, "periodSeconds": 5, "timeoutSeconds": 5, "failureThreshold": 120},
					"readinessProbe": {"httpGet": {"path": "/health", "port": "http"}, "initialDelaySeconds": 0, "periodSeconds": 10, "timeoutSeconds": 5, "failureThreshold": 3},
					"livenessProbe": {"httpGet": {"path": "/health", "port": "http"}, "initialDelaySeconds": 0, "periodSeconds": 30, "timeoutSeconds": 10, "failureThreshold": 3},
					"lifecycle": {"preStop": {"exec": {"command": ["sleep", "15"]}}},
					"resources": {
						"limits": {"cpu": "16", "memory": "200Gi", "nvidia.com/gpu": 2},
						"requests": {"cpu": "16", "memory": "200Gi", "nvidia.com/gpu": 2},
					},
					"securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}, "readOnlyRootFilesystem": true},
					"volumeMounts": [
						{"name": "models", "mountPath": "/models", "readOnly": true}, {"name": "dshm", "mountPath": "/dev/shm"},
						{"name": "home", "mountPath": "/home/vllm"}, {"name": "tmp", "mountPath": "/tmp"},
					],
				}],
				"volumes": [
					{"name": "models", "hostPath": {"path": "/var/modas-models/fp8_models/", "type": "Directory"}},
					{"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": "16Gi"}},
					{"name": "home", "emptyDir": {"sizeLimit": "20Gi"}},
					{"name": "tmp", "emptyDir": {"sizeLimit": "10Gi"}},
				],
			},
		},
	},
}

fixture_service := {
	"apiVersion": "v1",
	"kind": "Service",
	"metadata": {"name": "llms-v2-demo", "labels": fixture_labels},
	"spec": {
		"type": "NodePort",
		"selector": fixture_selector,
		"ports": [{"name": "http", "port": 8000, "targetPort": "http", "protocol": "TCP", "nodePort": 30025}],
	},
}

fixture_pdb := {
	"apiVersion": "policy/v1",
	"kind": "PodDisruptionBudget",
	"metadata": {"name": "llms-v2-demo", "labels": fixture_labels},
	"spec": {"maxUnavailable": 1, "selector": {"matchLabels": fixture_selector}},
}

fixture_service_account := {
	"apiVersion": "v1",
	"kind": "ServiceAccount",
	"metadata": {"name": "llms-v2-demo", "labels": fixture_labels},
	"automountServiceAccountToken": false,
}

fixture_network_policy := {
	"apiVersion": "networking.k8s.io/v1",
	"kind": "NetworkPolicy",
	"metadata": {"name": "llms-v2-demo", "labels": fixture_labels},
	"spec": {
		"podSelector": {"matchLabels": fixture_selector},
		"policyTypes": ["Ingress", "Egress"],
		"ingress": [{"ports": [{"protocol": "TCP", "port": "http"}]}],
	},
}

fixture_service_monitor := {
	"apiVersion": "monitoring.coreos.com/v1",
	"kind": "ServiceMonitor",
	"metadata": {"name": "llms-v2-demo", "labels": fixture_labels},
	"spec": {
		"selector": {"matchLabels": fixture_selector},
		"endpoints": [{"port": "http", "path": "/metrics", "interval": "30s"}],
	},
}

fixture_test_pod := {
	"apiVersion": "v1",
	"kind": "Pod",
	"metadata": {
		"name": "llms-v2-demo-test",
		"labels": object.union(fixture_labels, {"app.kubernetes.io/component": "helm-test"}),
		"annotations": {"helm.sh/hook": "test"},
	},
	"spec": {
		"restartPolicy": "Never",
		"automountServiceAccountToken": false,
		"securityContext": {"runAsNonRoot": true, "runAsUser": 65532, "seccompProfile": {"type": "RuntimeDefault"}},
		"containers": [{
			"name": "list-models",
			"image": "curlimages/curl:8.11.1",
			"command": ["sh", "-c"],
			"args": ["curl -fsS http://llms-v2-demo:8000/v1/models"],
			"securityContext": {"allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true, "capabilities": {"drop": ["ALL"]}},
			"resources": {"limits": {"cpu": "100m", "memory": "64Mi"}, "requests": {"cpu": "100m", "memory": "64Mi"}},
		}],
	},
}

fixture_release := [
	fixture_deployment,
	fixture_service,
	fixture_pdb,
	fixture_service_account,
	fixture_network_policy,
	fixture_service_monitor,
	fixture_test_pod,
]

# The reference release, as a conftest --combine input would name it.
fixture_target := {"environment": "test", "release": "llms-v2-demo"}

# A multi-node group as the chart renders it for multiNode.nodes 2 on vLLM v0.11.0 (the Ray
# launcher): a LeaderWorkerSet whose leader starts the Ray head and vLLM's API server, and whose
# worker joins the head and serves nothing. 2 pods x 2 GPUs = tensor parallel 2 x pipeline parallel 2.
fixture_leader_container := {
	"name": "vllm",
	"image": "vllm/vllm-openai:v0.11.0",
	"command": ["/bin/sh", "-c", "bash /vllm-workspace/examples/online_serving/multi-node-serving.sh leader --ray_cluster_size=2 --ray_init_timeout=600 && exec vllm serve \"$@\"", "vllm-serve"],
	"args": [
		"/models/demo/Demo-34B-FP8", "--served-model-name", "Demo-34B",
		"--host", "0.0.0.0", "--port", "8000",
		"--tensor-parallel-size", "2", "--pipeline-parallel-size", "2", "--gpu-memory-utilization", "0.85",
		"--distributed-executor-backend", "ray",
	],
	"env": [{"name": "VLLM_LOGGING_LEVEL", "value": "INFO"}, {"name": "VLLM_HOST_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}],
	"ports": [{"name": "http", "containerPort": 8000, "protocol": "TCP"}],
	"startupProbe": {"httpGet": {"path": "/health", "port": "http"}, "initialDelaySeconds": 0, "periodSeconds": 5, "timeoutSeconds": 5, "failureThreshold": 120},
	"readinessProbe": {"httpGet": {"path": "/health", "port": "http"}, "initialDelaySeconds": 0, "periodSeconds": 10, "timeoutSeconds": 5, "failureThreshold": 3},
	"livenessProbe": {"httpGet": {"path": "/health", "port": "http"}, "initialDelaySeconds": 0, "periodSeconds": 30, "timeoutSeconds": 10, "failureThreshold": 3},
	"lifecycle": {"preStop": {"exec": {"command": ["sleep", "15"]}}},
	"resources": {
		"limits": {"cpu": "16", "memory": "200Gi", "nvidia.com/gpu": 2},
		"requests": {"cpu": "16", "memory": "200Gi", "nvidia.com/gpu": 2},
	},
	"securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}, "readOnlyRootFilesystem": false},
	"volumeMounts": [{"name": "models", "mountPath": "/models", "readOnly": true}, {"name": "dshm", "mountPath": "/dev/shm"}],
}

fixture_worker_container := {
	"name": "vllm",
	"image": "vllm/vllm-openai:v0.11.0",
	"command": ["/bin/sh", "-c", "exec bash /vllm-workspace/examples/online_serving/multi-node-serving.sh worker --ray_address=$(LWS_LEADER_ADDRESS)"],
	"env": [{"name": "VLLM_LOGGING_LEVEL", "value": "INFO"}, {"name": "VLLM_HOST_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}],
	"lifecycle": {"preStop": {"exec": {"command": ["sleep", "15"]}}},
	"resources": {
		"limits": {"cpu": "16", "memory": "200Gi", "nvidia.com/gpu": 2},
		"requests": {"cpu": "16", "memory": "200Gi", "nvidia.com/gpu": 2},
	},
	"securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}, "readOnlyRootFilesystem": false},
	"volumeMounts": [{"name": "models", "mountPath": "/models", "readOnly": true}, {"name": "dshm", "mountPath": "/dev/shm"}],
}

fixture_group_pod_spec := {
	"serviceAccountName": "llms-v2-demo",
	"automountServiceAccountToken": false,
	"terminationGracePeriodSeconds": 120,
	"securityContext": {"runAsNonRoot": false, "seccompProfile": {"type": "RuntimeDefault"}},
	"tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
	"volumes": [
		{"name": "models", "hostPath": {"path": "/var/modas-models/fp8_models/", "type": "Directory"}},
		{"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": "16Gi"}},
	],
}

fixture_lws := {
	"apiVersion": "leaderworkerset.x-k8s.io/v1",
	"kind": "LeaderWorkerSet",
	"metadata": {
		"name": "llms-v2-demo",
		"labels": fixture_labels,
		"annotations": {"vllm-models.io/parameters-billions": "34", "vllm-models.io/served-model-name": "Demo-34B"},
	},
	"spec": {
		"replicas": 1,
		"startupPolicy": "LeaderCreated",
		"rolloutStrategy": {"type": "RollingUpdate", "rollingUpdateConfiguration": {"maxUnavailable": 1, "maxSurge": 0}},
		"networkConfig": {"subdomainPolicy": "Shared"},
		"leaderWorkerTemplate": {
			"size": 2,
			"restartPolicy": "RecreateGroupOnPodRestart",
			"leaderTemplate": {
				"metadata": {"labels": fixture_labels, "annotations": {"vllm-models.io/parameters-billions": "34"}},
				"spec": object.union(fixture_group_pod_spec, {"containers": [fixture_leader_container]}),
			},
			"workerTemplate": {
				"metadata": {"labels": fixture_labels, "annotations": {"vllm-models.io/parameters-billions": "34"}},
				"spec": object.union(fixture_group_pod_spec, {"containers": [fixture_worker_container]}),
			},
		},
	},
}

fixture_group_service := {
	"apiVersion": "v1",
	"kind": "Service",
	"metadata": {"name": "llms-v2-demo", "labels": fixture_labels},
	"spec": {
		"type": "NodePort",
		"selector": object.union(fixture_selector, {"leaderworkerset.sigs.k8s.io/worker-index": "0"}),
		"ports": [{"name": "http", "port": 8000, "targetPort": "http", "protocol": "TCP", "nodePort": 30025}],
	},
}

fixture_group_release := [
	fixture_lws,
	fixture_group_service,
	fixture_pdb,
	fixture_service_account,
	fixture_network_policy,
	fixture_service_monitor,
	fixture_test_pod,
]
