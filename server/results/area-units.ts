// Area units that survey and finance users read. 1 亩 = 10000/15 m² (666.67 m²), by
// definition (15 亩 = 1 公顷).
export const M2_PER = { m2: 1, ha: 10_000, km2: 1_000_000, mu: 10_000 / 15 } as const
export type AreaUnit = keyof typeof M2_PER

export function convertArea(m2: number, unit: AreaUnit): number {
  return m2 / M2_PER[unit]
}
