{{/* Names and labels shared by every template. */}}

{{- define "mnemo.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "mnemo.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The services, in start order: values key, the name `npm start <service>` takes. */}}
{{- define "mnemo.services" -}}
state: state
memory: memory
cacheAdmin: cache-admin
gateway: gateway
{{- end -}}

{{/* "<fullname>-<service>", e.g. mnemo-cache-admin. Call with (dict "root" $ "service" "cache-admin"). */}}
{{- define "mnemo.componentName" -}}
{{- printf "%s-%s" (include "mnemo.fullname" .root) .service | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "mnemo.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "mnemo.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: mnemo
{{- end -}}

{{/* Call with (dict "root" $ "service" "state"). */}}
{{- define "mnemo.selectorLabels" -}}
app.kubernetes.io/name: {{ include "mnemo.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .service }}
{{- end -}}

{{- define "mnemo.secretName" -}}
{{- default (include "mnemo.fullname" .) .Values.secrets.existingSecret -}}
{{- end -}}

{{- define "mnemo.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "mnemo.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "mnemo.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/*
Checks the values that no schema can express, and fails the render with one clear message.
*/}}
{{- define "mnemo.validate" -}}
{{- $redisChoices := 0 -}}
{{- if .Values.redis.url }}{{ $redisChoices = add1 $redisChoices }}{{ end -}}
{{- if .Values.redis.sentinel.nodes }}{{ $redisChoices = add1 $redisChoices }}{{ end -}}
{{- if .Values.redis.cluster.nodes }}{{ $redisChoices = add1 $redisChoices }}{{ end -}}
{{- if gt $redisChoices 1 -}}
{{- fail "set only one of redis.url, redis.sentinel.nodes and redis.cluster.nodes" -}}
{{- end -}}
{{- if and (eq $redisChoices 0) (not .Values.secrets.existingSecret) -}}
{{- fail "Mnemo's services run in separate pods and need Redis: set redis.url, redis.sentinel.nodes or redis.cluster.nodes (or REDIS_URL in secrets.existingSecret)" -}}
{{- end -}}
{{- if not .Values.neo4j.uri -}}
{{- fail "set neo4j.uri (bolt://host:7687 for one server, neo4j://host:7687 for cluster routing): replicas share the store of record" -}}
{{- end -}}
{{- if not .Values.secrets.existingSecret -}}
{{- if and (not .Values.auth.jwksUrl) (lt (len .Values.secrets.authJwtSecret) 32) -}}
{{- fail "set secrets.authJwtSecret (at least 32 bytes), auth.jwksUrl, or secrets.existingSecret" -}}
{{- end -}}
{{- if and .Values.secrets.authJwtSecret (lt (len .Values.secrets.authJwtSecret) 32) -}}
{{- fail "secrets.authJwtSecret must be at least 32 bytes long" -}}
{{- end -}}
{{- if lt (len .Values.secrets.internalSecret) 32 -}}
{{- fail "set secrets.internalSecret (at least 32 bytes) or secrets.existingSecret" -}}
{{- end -}}
{{- if not .Values.neo4j.password -}}
{{- fail "set neo4j.password or secrets.existingSecret (key NEO4J_PASSWORD)" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "mnemo.secretRef" -}}
valueFrom:
  secretKeyRef:
    name: {{ include "mnemo.secretName" .root }}
    key: {{ .key }}
    {{- if .optional }}
    optional: true
    {{- end }}
{{- end -}}

{{/*
The environment of one service. Call with (dict "root" $ "service" "state" "values" .Values.state).
Secrets come from the Secret by reference; each service gets only the ones it uses.
*/}}
{{- define "mnemo.env" -}}
{{- $root := .root -}}
{{- $v := $root.Values -}}
{{- $chartSecret := not $v.secrets.existingSecret -}}
- name: NODE_ENV
  value: {{ $v.nodeEnv | quote }}
- name: HOST
  value: "0.0.0.0"
- name: LOG_LEVEL
  value: {{ $v.logLevel | quote }}
- name: INTROSPECTION
  value: {{ $v.introspection | quote }}
- name: DATA_DIR
  value: /data
- name: STORE
  value: neo4j
{{- if ne .service "gateway" }}
- name: NEO4J_URI
  value: {{ $v.neo4j.uri | quote }}
- name: NEO4J_USER
  value: {{ $v.neo4j.user | quote }}
- name: NEO4J_DATABASE
  value: {{ $v.neo4j.database | quote }}
- name: NEO4J_PASSWORD
  {{- include "mnemo.secretRef" (dict "root" $root "key" "NEO4J_PASSWORD") | nindent 2 }}
{{- end }}
{{- if $v.redis.url }}
- name: REDIS_URL
  {{- if $chartSecret }}
  {{- include "mnemo.secretRef" (dict "root" $root "key" "REDIS_URL") | nindent 2 }}
  {{- else }}
  value: {{ $v.redis.url | quote }}
  {{- end }}
{{- else if $v.redis.sentinel.nodes }}
- name: REDIS_SENTINELS
  value: {{ join "," $v.redis.sentinel.nodes | quote }}
- name: REDIS_SENTINEL_NAME
  value: {{ $v.redis.sentinel.name | quote }}
{{- else if $v.redis.cluster.nodes }}
- name: REDIS_CLUSTER_NODES
  value: {{ join "," $v.redis.cluster.nodes | quote }}
{{- else }}
- name: REDIS_URL
  {{- include "mnemo.secretRef" (dict "root" $root "key" "REDIS_URL") | nindent 2 }}
{{- end }}
{{- if or $v.redis.sentinel.nodes $v.redis.cluster.nodes }}
{{- if or $v.redis.password (not $chartSecret) }}
- name: REDIS_PASSWORD
  {{- include "mnemo.secretRef" (dict "root" $root "key" "REDIS_PASSWORD" "optional" (not $chartSecret)) | nindent 2 }}
{{- end }}
- name: REDIS_TLS
  value: {{ $v.redis.tls | quote }}
{{- end }}
- name: INTERNAL_SECRET
  {{- include "mnemo.secretRef" (dict "root" $root "key" "INTERNAL_SECRET") | nindent 2 }}
{{- if eq .service "gateway" }}
{{- if or $v.secrets.authJwtSecret (not $chartSecret) }}
- name: AUTH_JWT_SECRET
  {{- include "mnemo.secretRef" (dict "root" $root "key" "AUTH_JWT_SECRET" "optional" (and (not $chartSecret) (not (empty $v.auth.jwksUrl)))) | nindent 2 }}
{{- end }}
{{- with $v.auth.jwksUrl }}
- name: AUTH_JWKS_URL
  value: {{ . | quote }}
{{- end }}
{{- with $v.auth.issuer }}
- name: AUTH_ISSUER
  value: {{ . | quote }}
{{- end }}
{{- with $v.auth.audience }}
- name: AUTH_AUDIENCE
  value: {{ . | quote }}
{{- end }}
- name: STATE_URL
  value: {{ printf "http://%s:%d/graphql" (include "mnemo.componentName" (dict "root" $root "service" "state")) (int $v.state.port) | quote }}
- name: MEMORY_URL
  value: {{ printf "http://%s:%d/graphql" (include "mnemo.componentName" (dict "root" $root "service" "memory")) (int $v.memory.port) | quote }}
- name: CACHE_ADMIN_URL
  value: {{ printf "http://%s:%d/graphql" (include "mnemo.componentName" (dict "root" $root "service" "cache-admin")) (int $v.cacheAdmin.port) | quote }}
{{- else if or $v.secrets.encryptionKeys (not $chartSecret) }}
- name: ENCRYPTION_KEYS
  {{- include "mnemo.secretRef" (dict "root" $root "key" "ENCRYPTION_KEYS" "optional" (not $chartSecret)) | nindent 2 }}
{{- end }}
- name: {{ .portVariable }}
  value: {{ .values.port | quote }}
{{- range $name, $value := merge (dict) .values.env $v.env }}
- name: {{ $name }}
  value: {{ $value | quote }}
{{- end }}
{{- end -}}
