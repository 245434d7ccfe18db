// name: orphan_ips
// description: Public IPs that cost money for nothing: reserved addresses associated with nothing
//   (no VM, NIC, load balancer or port), and addresses attached only to orphan VMs (pass their uids
//   as $orphan_instances). An instance's own ephemeral address goes with the VM and is never listed.
//   `unverified` when the IP's own scope was not read completely and recently, or when the VM it is
//   attached to could not be verified (pass those as $unverified_instances).
// params: provider, account, project, cutoff, fresh_after, orphan_instances, unverified_instances
// index: IP(attached) seek; Instance(uid) seeks for the orphan VMs; Collection(uid) seeks
// A missing $fresh_after means: reads older than 6 hours prove nothing.
WITH coalesce($fresh_after, datetime() - duration({hours: 6})) AS fresh_after
CALL () {
  MATCH (ip:IP)
  WHERE ip.attached = false AND NOT coalesce(ip.ephemeral, false)
    AND NOT EXISTS { (:Instance)-[:HAS_IP]->(ip) }
  RETURN ip, 'reserved and associated with nothing' AS reason, null AS doubt
  UNION
  UNWIND coalesce($orphan_instances, []) AS orphan
  MATCH (:Instance {uid: orphan})-[:HAS_IP]->(ip:IP)
  WHERE NOT coalesce(ip.ephemeral, false)
  RETURN DISTINCT ip, 'attached only to an orphan VM' AS reason, null AS doubt
  UNION
  UNWIND coalesce($unverified_instances, []) AS doubtful
  MATCH (:Instance {uid: doubtful})-[:HAS_IP]->(ip:IP)
  WHERE NOT coalesce(ip.ephemeral, false)
  RETURN DISTINCT ip, 'attached only to an orphan VM' AS reason,
    'attached to a VM that could not be verified' AS doubt
}
WITH ip, reason, doubt, coalesce(ip.created, ip.first_seen) AS born, fresh_after
WHERE ($provider IS NULL OR ip.provider = $provider)
  AND ($account IS NULL OR ip.account_id = $account)
  AND ($project IS NULL OR ip.cluster STARTS WITH 'shoot--' + $project + '--')
  AND ($cutoff IS NULL OR born <= $cutoff)
OPTIONAL MATCH (own:Collection {uid: ip.scope})
WITH ip, reason, born,
  CASE WHEN own.last_complete_started IS NULL OR own.last_complete_started < fresh_after
       THEN 'its own scope ' + ip.scope + ' was not read completely and recently' ELSE doubt END AS doubt
// The last five columns: the orphan lifecycle's facts, kept on the resource (graphinv/history/lifecycle.py).
RETURN
  CASE WHEN doubt IS NULL THEN 'orphan' ELSE 'unverified' END AS verdict, coalesce(doubt, reason) AS reason,
  'ip' AS kind, ip.provider AS provider, ip.uid AS uid, ip.name AS name, ip.account_id AS account,
  ip.region AS region, ip.zone AS zone, ip.state AS state, ip.cluster AS shoot, null AS instance_type,
  null AS size_gb, null AS disk_type, ip.address AS address, born AS created, ip.first_seen AS first_seen,
  ip.lost_edge AS lost_edge, ip.lost_edge_at AS lost_edge_at, ip.orphan_since AS orphan_since,
  ip.orphan_finding AS orphan_finding, null AS last_detached
ORDER BY provider, account, uid
