// name: orphan_instances
// description: Gardener-owned VMs (they carry a shoot's cluster tag/label) that no Machine runs on.
//   A VM is called an orphan only when the reads that could prove otherwise are complete and recent
//   and began after the VM existed: its own scope, the shoots (if its shoot is gone) and the machines
//   of its shoot's seed; and a Machine or shoot that pointed at it must not have changed or gone
//   after the VM's last read (`owner_changed_at`, set by watches: the Gardener side may be seconds
//   old while the cloud side is an hour old). Otherwise it is reported as `unverified`, with the reason.
//   Terminated VMs and VMs of hibernated shoots are never called orphans; bastion VMs are judged by
//   the Bastion objects (the second part).
// params: provider, account, project, cutoff, fresh_after
// index: Instance(claimed) seek; Collection(uid) seeks
// A missing $fresh_after means: reads older than 6 hours prove nothing.
WITH coalesce($fresh_after, datetime() - duration({hours: 6})) AS fresh_after
// `claimed` (kept by the ingest engine, graph_schema.base.ClaimFlag) is false for every VM no Machine
// runs on and no Bastion uses, so the query visits those few VMs, not all; it may be false for a VM
// that is claimed after all, which the edge check below settles. The hint: the planner may prefer the
// cluster or provider index, which holds every VM, or (with fresh statistics) scan this one.
MATCH (i:Instance) USING INDEX SEEK i:Instance(claimed)
WHERE i.claimed = false AND i.cluster IS NOT NULL
  AND ($provider IS NULL OR i.provider = $provider)
  AND ($account IS NULL OR i.account_id = $account)
  AND ($project IS NULL OR i.cluster STARTS WITH 'shoot--' + $project + '--')
  AND coalesce(i.role, 'node') <> 'bastion'
  AND NOT coalesce(i.status, 'unknown') IN ['terminated', 'shutting-down']
  // Only Machines run VMs (the model; tests/test_model_single_source.py): without a label on the
  // far end Neo4j counts the VM's RUNS_ON edges instead of visiting each one and its start node.
  AND NOT EXISTS { ()-[:RUNS_ON]->(i) }
WITH i, coalesce(i.created, i.first_seen) AS born, fresh_after
WHERE $cutoff IS NULL OR born <= $cutoff
OPTIONAL MATCH (s:Shoot)-[:OWNS_VM]->(i)
OPTIONAL MATCH (own:Collection {uid: i.scope})
OPTIONAL MATCH (shoots:Collection {uid: 'gardener:garden:global:Shoot'})
OPTIONAL MATCH (machines:Collection {uid: 'gardener:' + s.seed_name + ':global:Machine'})
WITH i, s, born,
  CASE
    WHEN own.last_complete_started IS NULL OR own.last_complete_started < fresh_after
      THEN 'its own scope ' + i.scope + ' was not read completely and recently'
    WHEN i.owner_changed_at IS NOT NULL AND i.owner_changed_at >= coalesce(i.last_seen, born)
      THEN 'its Machine or shoot changed after the VM was last read (a newer cloud read must confirm)'
    WHEN s IS NULL AND (shoots.last_complete_started IS NULL OR shoots.last_complete_started < fresh_after)
      THEN 'shoots were not read completely and recently'
    WHEN s IS NULL AND born >= shoots.last_complete_started
      THEN 'the VM is newer than the last complete read of shoots'
    WHEN s IS NOT NULL AND s.hibernated
      THEN 'its shoot is hibernated (a VM left after hibernation needs a human look)'
    WHEN s IS NOT NULL AND (machines.last_complete_started IS NULL OR machines.last_complete_started < fresh_after)
      THEN 'the machines of seed ' + coalesce(s.seed_name, '?') + ' were not read completely and recently'
    WHEN s IS NOT NULL AND born >= machines.last_complete_started
      THEN "the VM is newer than the last complete read of its seed's machines"
  END AS doubt
// The last five columns: the orphan lifecycle's facts, kept on the resource (graphinv/history/lifecycle.py).
RETURN
  CASE WHEN doubt IS NULL THEN 'orphan' ELSE 'unverified' END AS verdict,
  coalesce(doubt, CASE WHEN s IS NULL THEN 'its shoot no longer exists' ELSE 'no Machine runs on it' END) AS reason,
  'instance' AS kind, i.provider AS provider, i.uid AS uid, i.name AS name, i.account_id AS account,
  i.region AS region, i.zone AS zone, i.state AS state, i.cluster AS shoot, i.instance_type AS instance_type,
  null AS size_gb, null AS disk_type, i.public_ip AS address, born AS created, i.first_seen AS first_seen,
  i.lost_edge AS lost_edge, i.lost_edge_at AS lost_edge_at, i.orphan_since AS orphan_since,
  i.orphan_finding AS orphan_finding, null AS last_detached
ORDER BY provider, account, uid
UNION ALL
// Bastion VMs that no Bastion object claims (by the VM name its provider extension gives it, or by its
// status.ingress address): left behind when the object went. An orphan only when the garden's Bastions
// were read completely and recently, after the VM existed; otherwise unverified.
WITH coalesce($fresh_after, datetime() - duration({hours: 6})) AS fresh_after
MATCH (i:Instance {role: 'bastion'})
WHERE ($provider IS NULL OR i.provider = $provider)
  AND ($account IS NULL OR i.account_id = $account)
  AND ($project IS NULL OR i.name STARTS WITH 'shoot--' + $project + '--')
  AND NOT coalesce(i.status, 'unknown') IN ['terminated', 'shutting-down']
  AND NOT EXISTS { ()-[:USES_VM]->(i) }  // only Bastions use VMs, as only Machines run them
WITH i, coalesce(i.created, i.first_seen) AS born, fresh_after
WHERE $cutoff IS NULL OR born <= $cutoff
OPTIONAL MATCH (own:Collection {uid: i.scope})
OPTIONAL MATCH (bastions:Collection {uid: 'gardener:garden:global:Bastion'})
WITH i, born,
  CASE
    WHEN own.last_complete_started IS NULL OR own.last_complete_started < fresh_after
      THEN 'its own scope ' + i.scope + ' was not read completely and recently'
    WHEN bastions.last_complete_started IS NULL OR bastions.last_complete_started < fresh_after
      THEN 'Bastions were not read completely and recently'
    WHEN born >= bastions.last_complete_started
      THEN 'the VM is newer than the last complete read of Bastions'
  END AS doubt
RETURN
  CASE WHEN doubt IS NULL THEN 'orphan' ELSE 'unverified' END AS verdict,
  coalesce(doubt, 'a bastion VM whose Bastion object no longer exists') AS reason,
  'instance' AS kind, i.provider AS provider, i.uid AS uid, i.name AS name, i.account_id AS account,
  i.region AS region, i.zone AS zone, i.state AS state, i.cluster AS shoot, i.instance_type AS instance_type,
  null AS size_gb, null AS disk_type, i.public_ip AS address, coalesce(i.created, i.first_seen) AS created,
  i.first_seen AS first_seen, i.lost_edge AS lost_edge, i.lost_edge_at AS lost_edge_at, i.orphan_since AS orphan_since,
  i.orphan_finding AS orphan_finding, null AS last_detached
ORDER BY provider, account, uid
