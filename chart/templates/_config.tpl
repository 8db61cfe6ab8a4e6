{{/* airflow.cfg settings that follow from other values; `config:` entries win over them. */}}
{{- define "airflow.configDefaults" -}}
{{- $v3 := include "airflow.isAirflow3" . -}}
core:
  executor: {{ .Values.executor | quote }}
  load_examples: "False"
  dags_folder: {{ include "airflow.dagsFolder" . | quote }}
  # Pod host names do not resolve in the cluster; log fetching reaches pods by IP.
  hostname_callable: airflow.utils.net.get_host_ip_address
  {{- if $v3 }}
  execution_api_server_url: {{ printf "%s/execution/" (include "airflow.apiServerUrl" .) | quote }}
  {{- if .Values.createUserJob.enabled }}
  auth_manager: airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager
  {{- else }}
  # The simple auth manager writes the passwords it generates, by default into the read-only
  # AIRFLOW_HOME.
  simple_auth_manager_passwords_file: /tmp/simple_auth_manager_passwords.json.generated
  {{- end }}
  {{- end }}
logging:
  base_log_folder: /opt/airflow/logs
  worker_log_server_port: "8793"
  trigger_log_server_port: "8794"
  {{- if .Values.logs.remote.enabled }}
  remote_logging: "True"
  remote_base_log_folder: {{ required "logs.remote.baseLogFolder is required with remote logging" .Values.logs.remote.baseLogFolder | quote }}
  remote_log_conn_id: {{ .Values.logs.remote.connectionId | quote }}
  {{- end }}
scheduler:
  enable_health_check: "True"
  scheduler_health_check_server_port: "8974"
  {{- if and (not $v3) .Values.dagProcessor.enabled }}
  standalone_dag_processor: "True"
  {{- end }}
{{- if .Values.statsd.enabled }}
metrics:
  statsd_on: "True"
  statsd_host: {{ include "airflow.fullname" . }}-statsd
  statsd_port: "9125"
  statsd_prefix: airflow
{{- end }}
{{- if include "airflow.hasCelery" . }}
celery:
  worker_concurrency: {{ .Values.workers.concurrency | quote }}
{{- end }}
{{- if include "airflow.hasKubernetes" . }}
kubernetes_executor:
  namespace: {{ .Release.Namespace }}
  pod_template_file: /opt/airflow/pod_templates/pod_template_file.yaml
  delete_worker_pods: "True"
{{- end }}
{{- if and $v3 .Values.apiServer.workers }}
api:
  workers: {{ .Values.apiServer.workers | quote }}
{{- end }}
{{- if not $v3 }}
webserver:
  enable_proxy_fix: "True"
  {{- if not .Values.apiServer.webserverConfig }}
  # Airflow 2 copies its default webserver_config.py to config_file at start when it is missing.
  config_file: /tmp/webserver_config.py
  {{- end }}
{{- end }}
{{- end }}
