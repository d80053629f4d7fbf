{{- define "llm-router.name" -}}{{ .Release.Name | trunc 50 | trimSuffix "-" }}{{- end }}

{{- define "llm-router.selector" -}}
app.kubernetes.io/name: llm-router
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "llm-router.labels" -}}
{{ include "llm-router.selector" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end }}

{{/* `runtime`, checked: what runs dist/main.js. */}}
{{- define "llm-router.runtime" -}}
{{- $r := toString .Values.runtime -}}
{{- if has $r (list "bun" "node") -}}{{ $r }}
{{- else -}}{{ fail (printf "runtime %q: give bun (the image's entrypoint) or node" $r) }}
{{- end -}}
{{- end }}

{{/* resources.limits.memory in MiB: the runtime's memory setting is derived from it. */}}
{{- define "llm-router.memoryLimitMi" -}}
{{- $m := toString (required "resources.limits.memory is required: the runtime's memory setting is derived from it" .Values.resources.limits.memory) -}}
{{- if hasSuffix "Gi" $m -}}{{ mul (trimSuffix "Gi" $m | int) 1024 }}
{{- else if hasSuffix "Mi" $m -}}{{ trimSuffix "Mi" $m | int }}
{{- else -}}{{ fail (printf "resources.limits.memory %q: give it in Mi or Gi" $m) }}
{{- end -}}
{{- end }}

{{/* Bun: the RAM JavaScriptCore sizes its collector from, in bytes (it reads no unit). */}}
{{- define "llm-router.bunRAMSize" -}}
{{ mul (include "llm-router.memoryLimitMi" . | int64) 1048576 }}
{{- end }}

{{- define "llm-router.nodeOptions" -}}
--max-semi-space-size={{ .Values.heap.semiSpaceMb }} --max-old-space-size={{ div (mul (include "llm-router.memoryLimitMi" . | int) .Values.heap.oldSpacePercent) 100 }}
{{- end }}

{{- define "llm-router.redisUrl" -}}
{{- if .Values.redis.externalUrl -}}{{ .Values.redis.externalUrl }}
{{- else if .Values.redis.enabled -}}redis://{{ include "llm-router.name" . }}-redis:6379
{{- end -}}
{{- end }}

{{/* router.yaml: the user's config with what the chart owns set over it. */}}
{{- define "llm-router.config" -}}
{{- $config := deepCopy .Values.config -}}
{{- $server := dig "server" dict $config -}}
{{- $admin := dig "admin" dict $server -}}
{{- $_ := set $admin "address" "0.0.0.0" -}}
{{- $_ := set $admin "port" .Values.ports.admin -}}
{{- if .Values.adminToken.secretName -}}{{- $_ := set $admin "token_env" "LLM_ROUTER_ADMIN_TOKEN" -}}{{- end -}}
{{- $_ := set $server "grpc" (dict "address" "0.0.0.0" "port" .Values.ports.grpc) -}}
{{- $_ := set $server "admin" $admin -}}
{{- $_ := set $config "server" $server -}}
{{- with include "llm-router.redisUrl" . -}}
{{- $state := dig "state" dict $config -}}
{{- $_ := set $state "kind" "redis" -}}
{{- $_ := set $state "redis" (merge (dict "url" .) (dig "redis" dict $state)) -}}
{{- $_ := set $config "state" $state -}}
{{- end -}}
{{- toYaml $config -}}
{{- end }}
