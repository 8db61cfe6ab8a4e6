{{/*
Shared helpers. Component helpers take a context dict: root (the top-level scope), name (the
component's object-name suffix) and v (the component's values block).
*/}}

{{- define "airflow.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "airflow.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "airflow.componentName" -}}
{{- printf "%s-%s" (include "airflow.fullname" .root) .name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "airflow.selectorLabels" -}}
app.kubernetes.io/name: {{ include "airflow.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .name }}
{{- end }}

{{- define "airflow.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: airflow
app.kubernetes.io/version: {{ include "airflow.version" .root | quote }}
{{ include "airflow.selectorLabels" . }}
{{- with .root.Values.labels }}
{{ toYaml . }}
{{- end }}
{{- with (.v | default dict).labels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* The Airflow version the image runs. */}}
{{- define "airflow.version" -}}
{{- .Values.airflowVersion | default .Chart.AppVersion }}
{{- end }}

{{- define "airflow.isAirflow3" -}}
{{- if semverCompare ">=3.0.0-0" (include "airflow.version" .) }}true{{ end }}
{{- end }}

{{/* Executor families in play; a name, a module path or a comma-separated list all work. */}}
{{- define "airflow.hasCelery" -}}
{{- if contains "celery" (lower .Values.executor) }}true{{ end }}
{{- end }}

{{- define "airflow.hasKubernetes" -}}
{{- if contains "kubernetes" (lower .Values.executor) }}true{{ end }}
{{- end }}

{{- define "airflow.hasLocal" -}}
{{- if contains "local" (lower .Values.executor) }}true{{ end }}
{{- end }}

{{- define "airflow.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository .Values.image.tag }}
{{- end }}
{{- end }}

{{/* "api-server" on Airflow 3, "webserver" on Airflow 2. */}}
{{- define "airflow.apiServerComponent" -}}
{{- if include "airflow.isAirflow3" . }}api-server{{ else }}webserver{{ end }}
{{- end }}

{{- define "airflow.apiServerUrl" -}}
{{- printf "http://%s-%s:%v" (include "airflow.fullname" .) (include "airflow.apiServerComponent" .) .Values.apiServer.service.port }}
{{- end }}

{{- define "airflow.secretName" -}}
{{- printf "%s-secrets" (include "airflow.fullname" .) }}
{{- end }}

{{- define "airflow.configMapName" -}}
{{- printf "%s-config" (include "airflow.fullname" .) }}
{{- end }}

{{/*
secretKeyRef body for a secret item ({value, existingSecret, existingSecretKey}): the user's Secret
when named, otherwise the chart-managed one under the fixed key.
*/}}
{{- define "airflow.secretKeyRef" -}}
{{- if .item.existingSecret -}}
name: {{ .item.existingSecret }}
key: {{ .item.existingSecretKey }}
{{- else -}}
name: {{ include "airflow.secretName" .root }}
key: {{ .key }}
{{- end }}
{{- end }}

{{- define "airflow.databaseHost" -}}
{{- if .Values.database.host }}{{ .Values.database.host }}
{{- else if .Values.postgresql.enabled }}{{ include "airflow.fullname" . }}-postgresql
{{- else }}{{ fail "set database.host or database.connectionSecret.name, or enable postgresql (the bundled database)" }}
{{- end }}
{{- end }}

{{/* The SQLAlchemy URL built from parts; the password comes from $(AIRFLOW_DB_PASSWORD). */}}
{{- define "airflow.databaseUrl" -}}
{{- $db := .Values.database }}
{{- $scheme := $db.dialect }}
{{- if $db.driver }}{{ $scheme = printf "%s+%s" $db.dialect $db.driver }}{{ end }}
{{- $host := include "airflow.databaseHost" . }}
{{- $port := $db.port }}
{{- if .Values.pgbouncer.enabled }}
{{- $host = printf "%s-pgbouncer" (include "airflow.fullname" .) }}
{{- $port = 6543 }}
{{- end }}
{{- printf "%s://%s:$(AIRFLOW_DB_PASSWORD)@%s:%v/%s" $scheme $db.user $host $port $db.name }}
{{- if $db.query }}?{{ $db.query }}{{ end }}
{{- end }}

{{/* Environment every Airflow container gets; $(VAR) references need the earlier entries. */}}
{{- define "airflow.coreEnv" -}}
{{- $root := . -}}
- name: AIRFLOW__CORE__FERNET_KEY
  valueFrom:
    secretKeyRef:
      {{- include "airflow.secretKeyRef" (dict "root" $root "item" .Values.secrets.fernetKey "key" "fernet-key") | nindent 6 }}
- name: AIRFLOW__API__SECRET_KEY
  valueFrom:
    secretKeyRef:
      {{- include "airflow.secretKeyRef" (dict "root" $root "item" .Values.secrets.webserverSecretKey "key" "webserver-secret-key") | nindent 6 }}
- name: AIRFLOW__WEBSERVER__SECRET_KEY
  value: $(AIRFLOW__API__SECRET_KEY)
{{- if include "airflow.isAirflow3" . }}
- name: AIRFLOW__API_AUTH__JWT_SECRET
  valueFrom:
    secretKeyRef:
      {{- include "airflow.secretKeyRef" (dict "root" $root "item" .Values.secrets.jwtSecret "key" "jwt-secret") | nindent 6 }}
{{- end }}
{{- if .Values.database.connectionSecret.name }}
- name: AIRFLOW__DATABASE__SQL_ALCHEMY_CONN
  valueFrom:
    secretKeyRef:
      name: {{ .Values.database.connectionSecret.name }}
      key: {{ .Values.database.connectionSecret.key }}
{{- else }}
- name: AIRFLOW_DB_PASSWORD
  valueFrom:
    secretKeyRef:
      {{- include "airflow.secretKeyRef" (dict "root" $root "item" .Values.database.password "key" "database-password") | nindent 6 }}
- name: AIRFLOW__DATABASE__SQL_ALCHEMY_CONN
  value: {{ include "airflow.databaseUrl" . | quote }}
{{- end }}
{{- if include "airflow.hasCelery" . }}
- name: AIRFLOW__CELERY__RESULT_BACKEND
  value: db+$(AIRFLOW__DATABASE__SQL_ALCHEMY_CONN)
{{- if .Values.redis.enabled }}
- name: REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      {{- include "airflow.secretKeyRef" (dict "root" $root "item" .Values.redis.password "key" "redis-password") | nindent 6 }}
- name: AIRFLOW__CELERY__BROKER_URL
  value: {{ printf "redis://:$(REDIS_PASSWORD)@%s-redis:6379/0" (include "airflow.fullname" .) | quote }}
{{- else }}
- name: AIRFLOW__CELERY__BROKER_URL
  valueFrom:
    secretKeyRef:
      {{- include "airflow.secretKeyRef" (dict "root" $root "item" .Values.broker.url "key" "broker-url") | nindent 6 }}
{{- end }}
{{- end }}
{{- end }}

{{/* Full env of a component's Airflow container: core, then global, then the component's own. */}}
{{- define "airflow.env" -}}
{{- $root := .root -}}
{{ include "airflow.coreEnv" $root }}
{{- range $name, $value := $root.Values.env }}
- name: {{ $name }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- range $name, $value := (.v.env | default dict) }}
- name: {{ $name }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- with $root.Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- with .v.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "airflow.envFrom" -}}
{{- $all := concat (.root.Values.extraEnvFrom | default list) (.v.extraEnvFrom | default list) }}
{{- with $all }}
envFrom:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{- define "airflow.podSecurityContext" -}}
{{- $own := (.v.securityContexts | default dict).pod | default dict }}
{{- $sc := mergeOverwrite (deepCopy .root.Values.securityContexts.pod) (deepCopy $own) }}
{{- if .root.Values.openshift.enabled }}
{{- $sc = omit $sc "runAsUser" "runAsGroup" "fsGroup" }}
{{- end }}
{{- toYaml $sc }}
{{- end }}

{{/* Pod securityContext of a bundled service, whose image has its own user. */}}
{{- define "airflow.servicePodSecurityContext" -}}
{{- $sc := deepCopy .v.podSecurityContext }}
{{- if .root.Values.openshift.enabled }}
{{- $sc = omit $sc "runAsUser" "runAsGroup" "fsGroup" }}
{{- end }}
{{- toYaml $sc }}
{{- end }}

{{- define "airflow.containerSecurityContextDict" -}}
{{- $own := (.v.securityContexts | default dict).container | default dict }}
{{- toYaml (mergeOverwrite (deepCopy .root.Values.securityContexts.container) (deepCopy $own)) }}
{{- end }}

{{- define "airflow.containerSecurityContext" -}}
{{- include "airflow.containerSecurityContextDict" . }}
{{- end }}

{{- define "airflow.readOnlyRoot" -}}
{{- if (include "airflow.containerSecurityContextDict" . | fromYaml).readOnlyRootFilesystem }}true{{ end }}
{{- end }}

{{/* Which DAG source is mounted: "git", "pvc" or "" (baked into the image). */}}
{{- define "airflow.dagsSource" -}}
{{- if and .Values.dags.gitSync.enabled .Values.dags.persistence.enabled }}
{{- fail "dags.gitSync and dags.persistence are alternatives; enable one" }}
{{- else if .Values.dags.gitSync.enabled }}git
{{- else if .Values.dags.persistence.enabled }}pvc
{{- end }}
{{- end }}

{{- define "airflow.dagsFolder" -}}
{{- if eq (include "airflow.dagsSource" .) "git" }}
{{- trimSuffix "/" (printf "/opt/airflow/dags/repo/%s" .Values.dags.gitSync.subPath) }}
{{- else }}/opt/airflow/dags
{{- end }}
{{- end }}

{{/*
Pod volumes of an Airflow component. Extra context keys: dags (mount DAGs), logsClaimTemplate (the
logs volume comes from a volumeClaimTemplate).
*/}}
{{- define "airflow.volumes" -}}
{{- $root := .root -}}
- name: config
  configMap:
    name: {{ include "airflow.configMapName" $root }}
{{- if not .logsClaimTemplate }}
- name: logs
{{- if $root.Values.logs.persistence.enabled }}
  persistentVolumeClaim:
    claimName: {{ $root.Values.logs.persistence.existingClaim | default (printf "%s-logs" (include "airflow.fullname" $root)) }}
{{- else }}
  emptyDir:
    {{- with $root.Values.logs.emptyDir.sizeLimit }}
    sizeLimit: {{ . }}
    {{- end }}
{{- end }}
{{- end }}
{{- if .dags }}
{{- $source := include "airflow.dagsSource" $root }}
{{- if eq $source "pvc" }}
- name: dags
  persistentVolumeClaim:
    claimName: {{ $root.Values.dags.persistence.existingClaim | default (printf "%s-dags" (include "airflow.fullname" $root)) }}
    readOnly: true
{{- else if eq $source "git" }}
- name: dags
  emptyDir: {}
{{- if $root.Values.dags.gitSync.sshKeySecret }}
- name: git-ssh-key
  secret:
    secretName: {{ $root.Values.dags.gitSync.sshKeySecret }}
    defaultMode: 288
{{- end }}
{{- end }}
{{- end }}
{{- if include "airflow.readOnlyRoot" . }}
{{- range $i, $path := $root.Values.writablePaths }}
- name: writable-{{ $i }}
  emptyDir: {}
{{- end }}
{{- end }}
{{- if .podTemplate }}
- name: pod-template
  configMap:
    name: {{ include "airflow.fullname" $root }}-pod-template
{{- end }}
{{- with $root.Values.extraVolumes }}
{{ toYaml . }}
{{- end }}
{{- with .v.extraVolumes }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "airflow.writableMounts" -}}
{{- if include "airflow.readOnlyRoot" . }}
{{- range $i, $path := .root.Values.writablePaths }}
- name: writable-{{ $i }}
  mountPath: {{ $path }}
{{- end }}
{{- end }}
{{- end }}

{{- define "airflow.logsMount" -}}
- name: logs
  mountPath: /opt/airflow/logs
  {{- with .root.Values.logs.persistence.subPath }}
  subPath: {{ . }}
  {{- end }}
{{- end }}

{{/*
webserver_config.py from apiServer.webserverConfig: the API server's; on Airflow 2 every container's,
since every Airflow 2 process writes a default one where it is missing.
*/}}
{{- define "airflow.webserverConfigMount" -}}
{{- if or .webserverConfig (and .root.Values.apiServer.webserverConfig (not (include "airflow.isAirflow3" .root))) }}
- name: config
  mountPath: /opt/airflow/webserver_config.py
  subPath: webserver_config.py
  readOnly: true
{{- end }}
{{- end }}

{{- define "airflow.volumeMounts" -}}
{{- $root := .root -}}
- name: config
  mountPath: /opt/airflow/airflow.cfg
  subPath: airflow.cfg
  readOnly: true
{{- include "airflow.webserverConfigMount" . }}
{{ include "airflow.logsMount" . }}
{{- if and .dags (include "airflow.dagsSource" $root) }}
- name: dags
  mountPath: /opt/airflow/dags
  readOnly: true
  {{- if and (eq (include "airflow.dagsSource" $root) "pvc") $root.Values.dags.persistence.subPath }}
  subPath: {{ $root.Values.dags.persistence.subPath }}
  {{- end }}
{{- end }}
{{- if .podTemplate }}
- name: pod-template
  mountPath: /opt/airflow/pod_templates
  readOnly: true
{{- end }}
{{- include "airflow.writableMounts" . }}
{{- with $root.Values.extraVolumeMounts }}
{{ toYaml . }}
{{- end }}
{{- with .v.extraVolumeMounts }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* git-sync: a sidecar, or with oneTime an init container that clones once. */}}
{{- define "airflow.gitSyncContainer" -}}
{{- $root := .root -}}
{{- $git := $root.Values.dags.gitSync -}}
- name: {{ if .oneTime }}git-sync-init{{ else }}git-sync{{ end }}
  image: {{ printf "%s:%s" $git.image.repository $git.image.tag }}
  imagePullPolicy: {{ $git.image.pullPolicy }}
  securityContext:
    {{- include "airflow.containerSecurityContext" . | nindent 4 }}
  env:
    - name: GITSYNC_REPO
      value: {{ required "dags.gitSync.repo is required when git-sync is enabled" $git.repo | quote }}
    - name: GITSYNC_REF
      value: {{ $git.ref | quote }}
    - name: GITSYNC_ROOT
      value: /git
    - name: GITSYNC_LINK
      value: repo
    - name: GITSYNC_DEPTH
      value: {{ $git.depth | quote }}
    - name: GITSYNC_PERIOD
      value: {{ printf "%vs" $git.periodSeconds | quote }}
    - name: GITSYNC_MAX_FAILURES
      value: {{ $git.maxFailures | quote }}
    - name: GITSYNC_ONE_TIME
      value: {{ ternary "true" "false" (.oneTime | default false) | quote }}
    - name: HOME
      value: /tmp
    {{- if $git.credentialsSecret }}
    - name: GITSYNC_USERNAME
      valueFrom:
        secretKeyRef:
          name: {{ $git.credentialsSecret }}
          key: GITSYNC_USERNAME
    - name: GITSYNC_PASSWORD
      valueFrom:
        secretKeyRef:
          name: {{ $git.credentialsSecret }}
          key: GITSYNC_PASSWORD
    {{- end }}
    {{- if $git.sshKeySecret }}
    - name: GITSYNC_SSH_KEY_FILE
      value: /etc/git-secret/ssh
    - name: GITSYNC_SSH_KNOWN_HOSTS
      value: {{ ternary "true" "false" (not (empty $git.knownHosts)) | quote }}
    {{- if $git.knownHosts }}
    - name: GITSYNC_SSH_KNOWN_HOSTS_FILE
      value: /etc/git-known-hosts/known_hosts
    {{- end }}
    {{- end }}
    {{- with $git.extraEnv }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with $git.resources }}
  resources:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  volumeMounts:
    - name: dags
      mountPath: /git
    {{- if $git.sshKeySecret }}
    - name: git-ssh-key
      mountPath: /etc/git-secret/ssh
      subPath: gitSshKey
      readOnly: true
    {{- if $git.knownHosts }}
    - name: config
      mountPath: /etc/git-known-hosts/known_hosts
      subPath: known_hosts
      readOnly: true
    {{- end }}
    {{- end }}
    {{- include "airflow.writableMounts" . | nindent 4 }}
{{- end }}

{{/* The image's /clean-logs retention loop as a sidecar. */}}
{{- define "airflow.logCleanupContainer" -}}
{{- $root := .root -}}
- name: log-cleanup
  image: {{ include "airflow.image" $root }}
  imagePullPolicy: {{ $root.Values.image.pullPolicy }}
  args: ["bash", "/clean-logs"]
  env:
    - name: AIRFLOW__LOG_RETENTION_DAYS
      value: {{ $root.Values.logs.cleanup.retentionDays | quote }}
    - name: AIRFLOW__LOG_CLEANUP_FREQUENCY_MINUTES
      value: {{ $root.Values.logs.cleanup.frequencyMinutes | quote }}
  securityContext:
    {{- include "airflow.containerSecurityContext" . | nindent 4 }}
  {{- with $root.Values.logs.cleanup.resources }}
  resources:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  volumeMounts:
    {{- include "airflow.logsMount" . | nindent 4 }}
    {{- include "airflow.writableMounts" . | nindent 4 }}
{{- end }}

{{- define "airflow.wantsLogCleanup" -}}
{{- if and .root.Values.logs.cleanup.enabled .v.logCleanup }}true{{ end }}
{{- end }}

{{- define "airflow.waitForMigrationsContainer" -}}
{{- $root := .root -}}
- name: wait-for-migrations
  image: {{ include "airflow.image" $root }}
  imagePullPolicy: {{ $root.Values.image.pullPolicy }}
  args: ["db", "check-migrations", "--migration-wait-timeout", {{ $root.Values.waitForMigrations.timeoutSeconds | quote }}]
  env:
    {{- include "airflow.env" . | nindent 4 }}
    {{- include "airflow.databaseWaitEnv" $root | nindent 4 }}
  {{- include "airflow.envFrom" . | nindent 2 }}
  securityContext:
    {{- include "airflow.containerSecurityContext" . | nindent 4 }}
  {{- with .v.resources }}
  resources:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  volumeMounts:
    - name: config
      mountPath: /opt/airflow/airflow.cfg
      subPath: airflow.cfg
      readOnly: true
    {{- include "airflow.webserverConfigMount" (omit . "webserverConfig") | nindent 4 }}
    {{- include "airflow.writableMounts" . | nindent 4 }}
{{- end }}

{{/* A component's value, or the global one when the component's is empty. */}}
{{- define "airflow.pick" -}}
{{- $own := index (.v | default dict) .key }}
{{- $value := $own | default (index .root.Values .key) }}
{{- with $value }}{{ toYaml . }}{{ end }}
{{- end }}

{{/* Scheduling fields of a pod spec; constraints without a selector get the component's. */}}
{{- define "airflow.podScheduling" -}}
{{- $ctx := . -}}
{{- with include "airflow.pick" (merge (dict "key" "nodeSelector") .) }}
nodeSelector:
  {{- . | nindent 2 }}
{{- end }}
{{- with include "airflow.pick" (merge (dict "key" "affinity") .) }}
affinity:
  {{- . | nindent 2 }}
{{- end }}
{{- with include "airflow.pick" (merge (dict "key" "tolerations") .) }}
tolerations:
  {{- . | nindent 2 }}
{{- end }}
{{- with include "airflow.pick" (merge (dict "key" "priorityClassName") .) }}
priorityClassName: {{ . }}
{{- end }}
{{- $spread := include "airflow.pick" (merge (dict "key" "topologySpreadConstraints") .) | fromYamlArray }}
{{- with $spread }}
topologySpreadConstraints:
{{- range . }}
{{- $constraint := . }}
{{- if not (hasKey $constraint "labelSelector") }}
{{- $constraint = merge (dict "labelSelector" (dict "matchLabels" (include "airflow.selectorLabels" $ctx | fromYaml))) $constraint }}
{{- end }}
  - {{ toYaml $constraint | indent 4 | trim }}
{{- end }}
{{- end }}
{{- with .root.Values.imagePullSecrets }}
imagePullSecrets:
{{- range . }}
{{- if kindIs "string" . }}
  - name: {{ . }}
{{- else }}
  - {{- toYaml . | nindent 4 }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{- define "airflow.podAnnotations" -}}
checksum/config: {{ include (print .root.Template.BasePath "/configmap.yaml") .root | sha256sum }}
{{- with .root.Values.podAnnotations }}
{{ toYaml . }}
{{- end }}
{{- with .v.podAnnotations }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "airflow.serviceAccountName" -}}
{{- $sa := .v.serviceAccount }}
{{- if $sa.create }}
{{- $sa.name | default (include "airflow.componentName" .) }}
{{- else }}
{{- $sa.name | default "default" }}
{{- end }}
{{- end }}

{{/* Whether a component's pods talk to the Kubernetes API (and so need a token). */}}
{{- define "airflow.needsKubeApi" -}}
{{- $root := .root }}
{{- if and $root.Values.rbac.create (include "airflow.hasKubernetes" $root) (has .name (list "scheduler" "api-server" "webserver")) }}true
{{- else if and $root.Values.rbac.create $root.Values.rbac.allowPodLaunching (has .name (list "worker" "triggerer")) }}true
{{- end }}
{{- end }}

{{- define "airflow.pdb" -}}
{{- if .v.pdb.enabled }}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "airflow.componentName" . }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "airflow.labels" . | nindent 4 }}
spec:
  {{- if not (kindIs "string" .v.pdb.minAvailable) }}
  minAvailable: {{ .v.pdb.minAvailable }}
  {{- else if .v.pdb.minAvailable }}
  minAvailable: {{ .v.pdb.minAvailable }}
  {{- else }}
  maxUnavailable: {{ .v.pdb.maxUnavailable }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "airflow.selectorLabels" . | nindent 6 }}
{{- end }}
{{- end }}

{{- define "airflow.hpa" -}}
{{- if .v.hpa.enabled }}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "airflow.componentName" . }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "airflow.labels" . | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: {{ .kind }}
    name: {{ include "airflow.componentName" . }}
  minReplicas: {{ .v.hpa.minReplicas }}
  maxReplicas: {{ .v.hpa.maxReplicas }}
  metrics:
    {{- if .v.hpa.metrics }}
    {{- toYaml .v.hpa.metrics | nindent 4 }}
    {{- else }}
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: 80
    {{- end }}
  {{- with .v.hpa.behavior }}
  behavior:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
{{- end }}

{{- define "airflow.serviceAccount" -}}
{{- if .v.serviceAccount.create }}
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ include "airflow.serviceAccountName" . }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "airflow.labels" . | nindent 4 }}
  {{- with .v.serviceAccount.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
automountServiceAccountToken: false
{{- end }}
{{- end }}

{{/*
The image's entrypoint waits for the database before a command, 20 x 3 s by default, then exits.
One-shot containers that exist to wait get the whole waitForMigrations timeout instead, so a slow
database start does not turn into a crash loop.
*/}}
{{- define "airflow.databaseWaitEnv" -}}
- name: CONNECTION_CHECK_MAX_COUNT
  value: {{ max 1 (div .Values.waitForMigrations.timeoutSeconds 3) | quote }}
- name: CONNECTION_CHECK_SLEEP_TIME
  value: "3"
{{- end }}
