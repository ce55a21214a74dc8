// How people name each layer kind, and its map colour (the viewer, web/app.js, keeps the same
// table for the browser): 永久基本农田 for `farmland`.
export const KIND_NAMES: Record<string, { zh: string; en: string; color: string }> = {
  redline: { zh: '生态保护红线', en: 'ecological red line', color: '#d7301f' },
  protected_area: { zh: '自然保护地', en: 'protected areas', color: '#7a4fb0' },
  forest: { zh: '公益林', en: 'public-welfare forest', color: '#238b45' },
  wetland: { zh: '重要湿地', en: 'important wetlands', color: '#2c7fb8' },
  farmland: { zh: '永久基本农田', en: 'permanent farmland', color: '#e6a817' },
  grassland: { zh: '草地', en: 'grassland', color: '#8cc152' },
  water: { zh: '水域', en: 'water', color: '#4292c6' },
  other: { zh: '其他', en: 'other', color: '#636363' },
}
