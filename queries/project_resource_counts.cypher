// name: project_resource_counts
// description: Per project: shoots, machines, and the VMs, disks and IPs its shoots own.
// params: project
// index: Project label scan, then traversals
MATCH (p:Project)
WHERE $project IS NULL OR p.name = $project
OPTIONAL MATCH (p)-[:HAS_SHOOT]->(s:Shoot)
RETURN p.name AS project,
  count(DISTINCT s) AS shoots,
  sum(COUNT { (s)-[:HAS_MACHINE]->(:Machine) }) AS machines,
  sum(COUNT { (s)-[:OWNS_VM]->(:Instance) }) AS instances,
  sum(COUNT { (s)-[:OWNS_DISK]->(:Disk) }) AS disks,
  sum(COUNT { (s)-[:OWNS_IP]->(:IP) }) AS ips
ORDER BY project
