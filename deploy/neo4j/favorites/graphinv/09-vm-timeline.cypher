// graphinv: the timeline of one VM: everything recorded about it and its edges, also after it is gone
// first set: :param vm => 'i-0123456789abcdef0'
CALL () {
  MATCH (c:Change {node_uid: $vm}) WHERE c.at IS NOT NULL RETURN c
  UNION
  MATCH (c:Change {other_uid: $vm}) WHERE c.at IS NOT NULL RETURN c
}
RETURN c.at AS at, c.kind AS kind, c.property AS property, c.before AS before, c.after AS after,
  c.rel AS rel, c.node_label + ' ' + c.node_uid AS edge_from, c.other_label + ' ' + c.other_uid AS edge_to
ORDER BY at
