{{/* The KubernetesExecutor's pod_template_file, from the same values as the Celery workers. */}}
{{- define "airflow.taskPod" -}}
{{- $c := dict "root" . "name" "task" "v" .Values.workers "dags" true -}}
{{- /* The service account is the workers' one, so their name and RBAC apply to task pods too. */ -}}
{{- $sa := include "airflow.serviceAccountName" (dict "root" . "name" "worker" "v" .Values.workers) -}}
apiVersion: v1
kind: Pod
metadata:
  name: placeholder-name
  labels:
    {{- include "airflow.labels" $c | nindent 4 }}
  {{- $annotations := merge (dict) (.Values.workers.podAnnotations | default dict) (.Values.podAnnotations | default dict) }}
  {{- with $annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  restartPolicy: Never
  serviceAccountName: {{ $sa }}
  automountServiceAccountToken: {{ ternary "true" "false" (and .Values.rbac.create .Values.rbac.allowPodLaunching) }}
  securityContext:
    {{- include "airflow.podSecurityContext" $c | nindent 4 }}
  {{- include "airflow.podScheduling" $c | nindent 2 }}
  {{- if or (eq (include "airflow.dagsSource" .) "git") .Values.extraInitContainers .Values.workers.extraInitContainers }}
  initContainers:
    {{- if eq (include "airflow.dagsSource" .) "git" }}
    {{- include "airflow.gitSyncContainer" (merge (dict "oneTime" true) $c) | nindent 4 }}
    {{- end }}
    {{- with .Values.extraInitContainers }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
    {{- with .Values.workers.extraInitContainers }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- end }}
  containers:
    - name: base
      image: {{ include "airflow.image" . }}
      imagePullPolicy: {{ .Values.image.pullPolicy }}
      env:
        {{- include "airflow.env" $c | nindent 8 }}
      {{- include "airflow.envFrom" $c | nindent 6 }}
      securityContext:
        {{- include "airflow.containerSecurityContext" $c | nindent 8 }}
      {{- with .Values.workers.resources }}
      resources:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      volumeMounts:
        {{- include "airflow.volumeMounts" $c | nindent 8 }}
  volumes:
    {{- include "airflow.volumes" $c | nindent 4 }}
{{- end }}
