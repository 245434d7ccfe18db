// name: unowned_resources
// description: "Do I have unknown VMs?" VMs, disks and public IPs in collected accounts that carry no
//   shoot's cluster tag/label at all: not Gardener's, so not orphans of it, but someone's.
//   Terminated VMs, bastion VMs (Gardener tags them by name only), instances' ephemeral addresses,
//   untagged disks and IPs attached to a Gardener-owned VM (its shoot owns them), and reserved IPs
//   associated with nothing (orphans whatever their marker, see orphan_ips) are left out.
// params: provider, account, kind
// index: label scans per kind (cluster IS NULL cannot use an index); Collection not needed
CALL () {
  MATCH (n:Instance) WHERE n.cluster IS NULL AND ($kind IS NULL OR $kind = 'instance')
    AND NOT coalesce(n.status, 'unknown') IN ['terminated', 'shutting-down']
    AND coalesce(n.role, '') <> 'bastion'
  RETURN n, 'instance' AS kind
  UNION
  MATCH (n:Disk) WHERE n.cluster IS NULL AND ($kind IS NULL OR $kind = 'disk')
    AND NOT EXISTS { MATCH (i:Instance)-[:HAS_DISK]->(n) WHERE i.cluster IS NOT NULL OR i.role = 'bastion' }
  RETURN n, 'disk' AS kind
  UNION
  MATCH (n:IP) WHERE n.cluster IS NULL AND ($kind IS NULL OR $kind = 'ip') AND NOT coalesce(n.ephemeral, false)
    AND (coalesce(n.attached, true) OR EXISTS { (:Instance)-[:HAS_IP]->(n) })
    AND NOT EXISTS { MATCH (i:Instance)-[:HAS_IP]->(n) WHERE i.cluster IS NOT NULL OR i.role = 'bastion' }
  RETURN n, 'ip' AS kind
}
WITH n, kind
WHERE ($provider IS NULL OR n.provider = $provider) AND ($account IS NULL OR n.account_id = $account)
RETURN 'unowned' AS verdict,
  CASE WHEN kind = 'instance' THEN 'no cluster tag'
       WHEN n.attached THEN 'no cluster tag; in use' ELSE 'no cluster tag; unattached' END AS reason,
  kind, n.provider AS provider, n.uid AS uid, n.name AS name, n.account_id AS account, n.region AS region,
  n.zone AS zone, n.state AS state, null AS shoot, n.instance_type AS instance_type, n.size_gb AS size_gb,
  n.disk_type AS disk_type, n.address AS address, coalesce(n.created, n.first_seen) AS created,
  n.first_seen AS first_seen
ORDER BY provider, account, kind, uid
