{{/* Names and labels. */}}
{{- define "op.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}{{ .Release.Name | trunc 50 | trimSuffix "-" }}
{{- else -}}{{ printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" }}{{- end -}}
{{- end -}}

{{- define "op.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "op.selector" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "op.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{/* A Kubernetes name for a process: order_svc -> order-svc. */}}
{{- define "op.dns" -}}{{ . | replace "_" "-" }}{{- end -}}

{{- define "op.secretName" -}}
{{- .Values.secrets.existingSecret | default (printf "%s-secrets" (include "op.fullname" .)) -}}
{{- end -}}
{{- define "op.rabbitName" -}}{{ include "op.fullname" . }}-rabbitmq{{- end -}}
{{- define "op.pgName" -}}{{ include "op.fullname" . }}-pg{{- end -}}

{{/* The migration Job's hook: it needs the broker and database first. */}}
{{- define "op.migrateHook" -}}
{{- if or .Values.rabbitmq.operator.enabled .Values.postgresql.cnpg.enabled -}}
post-install,pre-upgrade
{{- else -}}
pre-install,pre-upgrade
{{- end -}}
{{- end -}}

{{/* Environment of every process: config.yml's names. */}}
{{- define "op.env" -}}
{{- $secret := include "op.secretName" . -}}
{{- if .Values.rabbitmq.operator.enabled }}
- name: RABBITMQ_USER
  valueFrom: {secretKeyRef: {name: {{ include "op.rabbitName" . }}-default-user, key: username}}
- name: RABBITMQ_PASSWORD
  valueFrom: {secretKeyRef: {name: {{ include "op.rabbitName" . }}-default-user, key: password}}
- name: AMQP_URI
  value: "amqp://$(RABBITMQ_USER):$(RABBITMQ_PASSWORD)@{{ include "op.rabbitName" . }}.{{ .Release.Namespace }}.svc:5672/"
- name: RABBIT_MANAGEMENT_URI
  value: "http://$(RABBITMQ_USER):$(RABBITMQ_PASSWORD)@{{ include "op.rabbitName" . }}.{{ .Release.Namespace }}.svc:15672/"
{{- else }}
{{- $broker := required "rabbitmq.external.existingSecret is required without the operator" .Values.rabbitmq.external.existingSecret }}
- name: AMQP_URI
  valueFrom: {secretKeyRef: {name: {{ $broker }}, key: AMQP_URI}}
- name: RABBIT_MANAGEMENT_URI
  valueFrom: {secretKeyRef: {name: {{ $broker }}, key: RABBIT_MANAGEMENT_URI}}
{{- end }}
{{- if .Values.postgresql.cnpg.enabled }}
- name: DB_HOST
  value: {{ include "op.pgName" . }}-rw
- name: DB_PORT
  value: "5432"
{{- else }}
- name: DB_HOST
  value: {{ required "postgresql.external.host is required without CloudNativePG" .Values.postgresql.external.host | quote }}
- name: DB_PORT
  value: {{ .Values.postgresql.external.port | quote }}
{{- end }}
{{- range $service, $_ := .Values.services }}
- name: DB_PASSWORD_{{ upper $service }}
  valueFrom: {secretKeyRef: {name: {{ $secret }}, key: DB_PASSWORD_{{ upper $service }}}}
{{- end }}
- name: JWT_SECRET
  valueFrom: {secretKeyRef: {name: {{ $secret }}, key: JWT_SECRET}}
- name: ADMIN_EMAIL
  value: {{ .Values.secrets.adminEmail | quote }}
- name: ADMIN_PASSWORD
  valueFrom: {secretKeyRef: {name: {{ $secret }}, key: ADMIN_PASSWORD}}
- name: SMTP_HOST
  value: {{ .Values.smtp.host | quote }}
- name: SMTP_PORT
  value: {{ .Values.smtp.port | quote }}
- name: SMTP_STARTTLS
  value: {{ .Values.smtp.starttls | quote }}
- name: SMTP_USER
  value: {{ .Values.smtp.user | quote }}
- name: SMTP_PASSWORD
  valueFrom: {secretKeyRef: {name: {{ $secret }}, key: SMTP_PASSWORD}}
- name: OIDC_GOOGLE_CLIENT_ID
  value: {{ .Values.oidc.google.clientId | quote }}
- name: OIDC_GOOGLE_CLIENT_SECRET
  valueFrom: {secretKeyRef: {name: {{ $secret }}, key: OIDC_GOOGLE_CLIENT_SECRET, optional: true}}
- name: ENV
  value: production
- name: GATEWAY_HOST
  value: 0.0.0.0
- name: GATEWAY_PORT
  value: {{ .Values.gateway.port | quote }}
- name: METRICS_HOST
  value: 0.0.0.0
{{- range $service, $spec := .Values.services }}
- name: METRICS_PORT_{{ upper $service }}
  value: {{ $spec.metricsPort | quote }}
{{- end }}
{{- if and .Values.redis.enabled (not (hasKey .Values.config "RATE_LIMIT_STORAGE_URI")) }}
- name: RATE_LIMIT_STORAGE_URI
  value: "redis://{{ include "op.fullname" . }}-redis:6379/0"
{{- end }}
{{- range $name, $value := .Values.config }}
- name: {{ $name }}
  value: {{ $value | quote }}
{{- end }}
{{- end -}}

{{- define "op.podSpecCommon" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets: {{ toYaml . | nindent 2 }}
{{- end }}
securityContext: {{ toYaml .Values.podSecurityContext | nindent 2 }}
{{- end -}}

{{- define "op.containerSecurity" -}}
securityContext:
  allowPrivilegeEscalation: false
  readOnlyRootFilesystem: true
  capabilities: {drop: [ALL]}
{{- end -}}

{{/* A Secret value, base64: the one given, else the one stored, else a new random one. */}}
{{- define "op.kept" -}}
{{- if .value -}}{{ .value | b64enc | quote }}
{{- else if hasKey .old .key -}}{{ get .old .key | quote }}
{{- else -}}{{ randAlphaNum (int .length) | b64enc | quote }}
{{- end -}}
{{- end -}}
