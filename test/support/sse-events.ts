/** An SSE transcript as its events: the `event:` name (null when absent) and the joined `data:` lines. Comment lines are skipped. */
export interface SseEvent {
  readonly event: string | null;
  readonly data: string;
}

export function sseEvents(text: string): SseEvent[] {
  const events: SseEvent[] = [];
  for (const block of text.split(/\r?\n\r?\n/)) {
    let event: string | null = null;
    const data: string[] = [];
    for (const line of block.split(/\r?\n/)) {
      if (line.startsWith('event:')) event = line.slice(6).trim();
      else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
    }
    if (event !== null || data.length > 0) events.push({ event, data: data.join('\n') });
  }
  return events;
}
