{{/*
A one-shot Airflow Job. Context keys besides root/name/v: args, extraEnv, weight (hook order), and
hashOf (what makes a plain Job's name change, so a GitOps tool runs it again when that changes).
*/}}
{{- define "airflow.job" -}}
{{- $root := .root -}}
apiVersion: batch/v1
kind: Job
metadata:
  {{- if .v.useHelmHooks }}
  name: {{ include "airflow.componentName" . }}
  {{- else }}
  {{- /* Jobs are immutable: a new name per image (and settings) lets apply-based tools run it again. */}}
  name: {{ printf "%s-%s" (include "airflow.componentName" . | trunc 54 | trimSuffix "-") (.hashOf | sha256sum | trunc 8) }}
  {{- end }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "airflow.labels" . | nindent 4 }}
  {{- if or .v.useHelmHooks .v.annotations }}
  annotations:
    {{- if .v.useHelmHooks }}
    helm.sh/hook: post-install,post-upgrade
    helm.sh/hook-weight: {{ .weight | quote }}
    helm.sh/hook-delete-policy: before-hook-creation
    {{- end }}
    {{- with .v.annotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- end }}
spec:
  backoffLimit: {{ .v.backoffLimit }}
  {{- if .v.useHelmHooks }}
  ttlSecondsAfterFinished: {{ .v.ttlSecondsAfterFinished }}
  {{- end }}
  template:
    metadata:
      labels:
        {{- include "airflow.labels" . | nindent 8 }}
      {{- $annotations := merge (dict) (.v.podAnnotations | default dict) ($root.Values.podAnnotations | default dict) }}
      {{- with $annotations }}
      annotations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
    spec:
      restartPolicy: OnFailure
      automountServiceAccountToken: false
      securityContext:
        {{- include "airflow.podSecurityContext" . | nindent 8 }}
      {{- include "airflow.podScheduling" . | nindent 6 }}
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
            {{- include "airflow.databaseWaitEnv" $root | nindent 12 }}
          {{- include "airflow.envFrom" . | nindent 10 }}
          securityContext:
            {{- include "airflow.containerSecurityContext" . | nindent 12 }}
          {{- with .v.resources }}
          resources:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          volumeMounts:
            {{- include "airflow.volumeMounts" . | nindent 12 }}
      volumes:
        {{- include "airflow.volumes" . | nindent 8 }}
{{- end }}
