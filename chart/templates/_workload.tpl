{{/*
The Deployment or StatefulSet of an Airflow component. Context keys besides root/name/v:
  kind          Deployment | StatefulSet
  args          container args (list)
  ports         container ports (list of ContainerPort dicts)
  probes        YAML of the container's probe fields
  dags          mount the DAGs (and run git-sync beside them)
  autoscaled    leave replicas to an HPA or KEDA
  extraEnv      env entries appended for this component (list)
  serviceName   StatefulSet governing Service
  logsClaimTemplate  per-pod logs claim (StatefulSet volumeClaimTemplates)
  webserverConfig    mount webserver_config.py
*/}}
{{- define "airflow.workload" -}}
{{- $root := .root -}}
{{- $ctx := . -}}
apiVersion: apps/v1
kind: {{ .kind }}
metadata:
  name: {{ include "airflow.componentName" . }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "airflow.labels" . | nindent 4 }}
  {{- with .v.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  {{- if not .autoscaled }}
  replicas: {{ if hasKey .v "replicas" }}{{ .v.replicas }}{{ else }}1{{ end }}
  {{- end }}
  {{- if eq .kind "StatefulSet" }}
  serviceName: {{ .serviceName }}
  podManagementPolicy: Parallel
  {{- end }}
  revisionHistoryLimit: 5
  selector:
    matchLabels:
      {{- include "airflow.selectorLabels" . | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "airflow.labels" . | nindent 8 }}
      annotations:
        {{- include "airflow.podAnnotations" . | nindent 8 }}
    spec:
      serviceAccountName: {{ include "airflow.serviceAccountName" . }}
      automountServiceAccountToken: {{ ternary "true" "false" (not (empty (include "airflow.needsKubeApi" .))) }}
      securityContext:
        {{- include "airflow.podSecurityContext" . | nindent 8 }}
      terminationGracePeriodSeconds: {{ .v.terminationGracePeriodSeconds }}
      {{- include "airflow.podScheduling" . | nindent 6 }}
      {{- $inits := list }}
      {{- if or $root.Values.waitForMigrations.enabled (and .dags (eq (include "airflow.dagsSource" $root) "git")) $root.Values.extraInitContainers .v.extraInitContainers }}
      initContainers:
        {{- if $root.Values.waitForMigrations.enabled }}
        {{- include "airflow.waitForMigrationsContainer" . | nindent 8 }}
        {{- end }}
        {{- if and .dags (eq (include "airflow.dagsSource" $root) "git") }}
        {{- include "airflow.gitSyncContainer" (merge (dict "oneTime" true) .) | nindent 8 }}
        {{- end }}
        {{- with $root.Values.extraInitContainers }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
        {{- with .v.extraInitContainers }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- end }}
      containers:
        - name: {{ .name }}
          image: {{ include "airflow.image" $root }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          args:
            {{- toYaml .args | nindent 12 }}
          env:
            {{- include "airflow.env" . | nindent 12 }}
            {{- with .extraEnv }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          {{- include "airflow.envFrom" . | nindent 10 }}
          {{- with .ports }}
          ports:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          {{- with .probes }}
          {{- . | nindent 10 }}
          {{- end }}
          securityContext:
            {{- include "airflow.containerSecurityContext" . | nindent 12 }}
          {{- with .v.resources }}
          resources:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          volumeMounts:
            {{- include "airflow.volumeMounts" . | nindent 12 }}
        {{- if and .dags (eq (include "airflow.dagsSource" $root) "git") }}
        {{- include "airflow.gitSyncContainer" . | nindent 8 }}
        {{- end }}
        {{- if include "airflow.wantsLogCleanup" . }}
        {{- include "airflow.logCleanupContainer" . | nindent 8 }}
        {{- end }}
        {{- with $root.Values.extraContainers }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
        {{- with .v.extraContainers }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      volumes:
        {{- include "airflow.volumes" . | nindent 8 }}
  {{- if .logsClaimTemplate }}
  volumeClaimTemplates:
    - metadata:
        name: logs
      spec:
        accessModes: ["ReadWriteOnce"]
        {{- with .v.persistence.storageClassName }}
        storageClassName: {{ . }}
        {{- end }}
        resources:
          requests:
            storage: {{ .v.persistence.size }}
  {{- end }}
{{- end }}

{{/* exec probe fields: kind is livenessProbe/readinessProbe/startupProbe, p the probe values. */}}
{{- define "airflow.execProbe" -}}
{{- if .p.enabled }}
{{ .kind }}:
  exec:
    command:
      {{- toYaml .command | nindent 6 }}
  initialDelaySeconds: {{ .p.initialDelaySeconds | default 0 }}
  periodSeconds: {{ .p.periodSeconds }}
  timeoutSeconds: {{ .p.timeoutSeconds }}
  failureThreshold: {{ .p.failureThreshold }}
{{- end }}
{{- end }}

{{- define "airflow.httpProbe" -}}
{{- if .p.enabled }}
{{ .kind }}:
  httpGet:
    path: {{ .path }}
    port: {{ .port }}
  initialDelaySeconds: {{ .p.initialDelaySeconds | default 0 }}
  periodSeconds: {{ .p.periodSeconds }}
  timeoutSeconds: {{ .p.timeoutSeconds }}
  failureThreshold: {{ .p.failureThreshold }}
{{- end }}
{{- end }}
