{{/* Name of the chart, overridable. */}}
{{- define "callfleet.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name of every object: the release name, or release-chart when they differ. */}}
{{- define "callfleet.fullname" -}}
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

{{- define "callfleet.selectorLabels" -}}
app.kubernetes.io/name: {{ include "callfleet.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end }}

{{- define "callfleet.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "callfleet.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: callfleet
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* The leader-election Lease: one per release, so two releases in one namespace never share a leader. */}}
{{- define "callfleet.leaseName" -}}
{{- printf "%s-operator" (include "callfleet.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The Service in front of the leader's notice port (a Service name is at most 63 characters). */}}
{{- define "callfleet.noticesService" -}}
{{- printf "%s-notices" (include "callfleet.fullname" . | trunc 55 | trimSuffix "-") }}
{{- end }}

{{/* Pull secrets: the chart's and an umbrella chart's global.imagePullSecrets (names or {name: ...}). */}}
{{- define "callfleet.imagePullSecretNames" -}}
{{- $names := list }}
{{- range (concat (.Values.imagePullSecrets | default list) ((.Values.global).imagePullSecrets | default list)) }}
{{- if kindIs "map" . }}
{{- $names = append $names .name }}
{{- else }}
{{- $names = append $names . }}
{{- end }}
{{- end }}
{{- join "," ($names | uniq) }}
{{- end }}

{{- define "callfleet.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "callfleet.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The image, on a registry mirror when image.registry or global.imageRegistry names one (it replaces the
     repository's own registry host). The operator passes the same reference to the gateways it renders. */}}
{{- define "callfleet.image" -}}
{{- $registry := coalesce ((.Values.global).imageRegistry) .Values.image.registry "" }}
{{- $repository := .Values.image.repository }}
{{- if $registry }}
{{- $repository = printf "%s/%s" (trimSuffix "/" $registry) (regexReplaceAll "^[^/]*[.:][^/]*/" $repository "") }}
{{- end }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" $repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" $repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* The namespaces the operator watches: the list in namespaced scope, nothing (= all) in cluster scope. */}}
{{- define "callfleet.validate" -}}
{{- if eq .Values.rbac.scope "namespaced" }}
{{- if eq (len .Values.rbac.watchNamespaces) 0 }}
{{- fail "rbac.scope=namespaced needs at least one namespace in rbac.watchNamespaces" }}
{{- end }}
{{- end }}
{{- if and .Values.operator.notices.enabled (eq (int .Values.operator.notices.port) (int .Values.operator.metricsPort)) }}
{{- fail "operator.notices.port must differ from operator.metricsPort" }}
{{- end }}
{{- if and (gt (int .Values.operator.replicas) 1) (not .Values.operator.leaderElection) }}
{{- fail "operator.replicas > 1 needs operator.leaderElection=true (two leaders would fight over every object)" }}
{{- end }}
{{- end }}
