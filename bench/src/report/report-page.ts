/** The report being written: its Markdown lines, the SVG charts they show, and how to embed one. */
export interface ReportPage {
  readonly md: string[];
  /** File name under the chart folder → SVG. */
  readonly charts: Record<string, string>;
  img(file: string, alt: string): string;
}

export function reportPage(chartDir: string): ReportPage {
  return { md: [], charts: {}, img: (file, alt) => `![${alt}](${chartDir}/${file})` };
}
