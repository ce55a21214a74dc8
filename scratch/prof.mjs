import fs from 'node:fs'
const f = fs.readdirSync('/tmp/prof')[0]
const p = JSON.parse(fs.readFileSync('/tmp/prof/' + f))
const self = new Map()
const dt = p.timeDeltas; const total = dt.reduce((a, b) => a + b, 0)
const byId = new Map(p.nodes.map(n => [n.id, n]))
const counts = new Map()
p.samples.forEach((s, i) => counts.set(s, (counts.get(s) ?? 0) + dt[i]))
for (const [id, t] of counts) { const n = byId.get(id); const k = `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.split('/').slice(-2).join('/')}:${n.callFrame.lineNumber}`; self.set(k, (self.get(k) ?? 0) + t) }
for (const [k, t] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log((t / 1000).toFixed(0).padStart(7), 'ms', k)
console.log('total', (total/1000).toFixed(0))
