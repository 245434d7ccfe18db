// name: shoots_without_machines
// description: Shoots with no Machine in the graph: expected for hibernated shoots and shoots whose
//   seed could not be read; anything else is worth a look.
// params: project
// index: Shoot label scan (every shoot is a candidate)
MATCH (s:Shoot)
WHERE NOT EXISTS { (s)-[:HAS_MACHINE]->(:Machine) }
  AND ($project IS NULL OR s.technical_id STARTS WITH 'shoot--' + $project + '--')
OPTIONAL MATCH (c:Collection {uid: 'gardener:' + s.seed_name + ':global:Machine'})
RETURN s.uid AS shoot, s.technical_id AS technical_id, s.seed_name AS seed, s.provider AS provider,
  s.hibernated AS hibernated, c.status AS seed_machines_status, c.last_complete_finished AS seed_machines_read
ORDER BY shoot
