-- Argo CD health check for callfleet.io/MemoryStore (resource.customizations.health.callfleet.io_MemoryStore).
-- Healthy: the operator has observed the current generation and Ready is True.
-- Degraded: Degraded is True (invalid spec, stalled rollout, unreachable dependency).
-- Progressing: anything else (not yet observed, or the store is still converging).
-- Tested by test/deploy/argocd-health.test.ts against health/testdata/memorystore-*.yaml.
local hs = { status = "Progressing", message = "Waiting for the callfleet operator" }
if obj.status == nil then
  return hs
end
local generation = obj.metadata and obj.metadata.generation or nil
local observed = obj.status.observedGeneration
if generation ~= nil and (observed == nil or observed < generation) then
  hs.message = "Waiting for the operator to observe generation " .. tostring(generation)
  return hs
end
local conditions = {}
if obj.status.conditions ~= nil then
  for _, condition in ipairs(obj.status.conditions) do
    conditions[condition.type] = condition
  end
end
local function describe(condition, fallback)
  local text = condition.reason or fallback
  if condition.message ~= nil and condition.message ~= "" then
    text = text .. ": " .. condition.message
  end
  return text
end
local degraded = conditions["Degraded"]
if degraded ~= nil and degraded.status == "True" then
  return { status = "Degraded", message = describe(degraded, "Degraded") }
end
local ready = conditions["Ready"]
if ready ~= nil and ready.status == "True" then
  local progressing = conditions["Progressing"]
  if progressing ~= nil and progressing.status == "True" then
    return { status = "Progressing", message = describe(progressing, "Progressing") }
  end
  return { status = "Healthy", message = describe(ready, "Ready") }
end
if ready ~= nil then
  hs.message = describe(ready, "NotReady")
end
return hs
