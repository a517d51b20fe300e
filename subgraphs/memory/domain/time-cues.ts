/**
 * Time cues in a query ("in May 2023", "on 13 October", "last year", "yesterday") as windows of
 * time that a memory's `occurredAt` can be matched against. Dates are found by chrono-node (a
 * maintained natural-language date parser), relative to the recall's reference instant (now,
 * or `filter.asOf`), so "last year" means the year before the moment the recall is judged at.
 *
 * Precision follows what the query actually said: "October 13, 2023" is that day, "October
 * 2023" that month, "2023" that year. A month or day without a year ("in June") matches that
 * month or day in any year.
 */
import * as chrono from "chrono-node";

export interface TimeWindow {
  /** Inclusive start and exclusive end, ms since the epoch. */
  start: number;
  end: number;
  /** The window repeats every year (a month or a day named without a year). */
  yearly: boolean;
  /** The words of the query that named it. */
  text: string;
}

const DAY = 86_400_000;

/** A bare year ("in 2023", "during 2019") is not a date to chrono; it is a window here. */
const YEAR = /\b(?:in|during|of|since|from|for|throughout)\s+((?:19|20)\d{2})\b/gi;

export function timeCues(query: string, reference: Date): TimeWindow[] {
  const windows: TimeWindow[] = [];
  for (const result of chrono.parse(query, reference)) {
    const { start } = result;
    const year = start.get("year") ?? reference.getUTCFullYear();
    const month = (start.get("month") ?? 1) - 1;
    const day = start.get("day") ?? 1;
    const yearCertain = start.isCertain("year");
    const monthCertain = start.isCertain("month");
    const dayCertain = start.isCertain("day");
    let from: number;
    let to: number;
    if (dayCertain || (!monthCertain && !yearCertain)) {
      // A day, said ("13 October") or implied by a relative phrase ("yesterday", "on Sunday").
      from = Date.UTC(year, month, day);
      to = from + DAY;
    } else if (monthCertain) {
      from = Date.UTC(year, month, 1);
      to = Date.UTC(year, month + 1, 1);
    } else {
      from = Date.UTC(year, 0, 1);
      to = Date.UTC(year + 1, 0, 1);
    }
    if (result.end)
      to = Math.max(
        to,
        Date.UTC(
          result.end.get("year") ?? year,
          (result.end.get("month") ?? 1) - 1,
          (result.end.get("day") ?? 1) + 1,
        ),
      );
    windows.push({
      start: from,
      end: to,
      yearly: !yearCertain && (monthCertain || dayCertain),
      text: result.text,
    });
  }
  for (const match of query.matchAll(YEAR)) {
    const year = Number(match[1]);
    if (windows.some((window) => !window.yearly && new Date(window.start).getUTCFullYear() === year))
      continue;
    windows.push({
      start: Date.UTC(year, 0, 1),
      end: Date.UTC(year + 1, 0, 1),
      yearly: false,
      text: match[0],
    });
  }
  return windows;
}

/**
 * How well an instant fits the query's time cues, 0..1: 1 inside a window, decaying outside it
 * with a half-life of a quarter of the window (at least two days), so "in May" still favours
 * the first days of June (an event is often told a little after it happened) over December.
 */
export function timeCueMatch(at: number, windows: readonly TimeWindow[]): number {
  let best = 0;
  for (const window of windows) {
    const span = window.end - window.start;
    let distance: number;
    if (window.yearly) {
      // Compare within the instant's own year (and the neighbouring ones, for windows near New Year).
      const year = new Date(at).getUTCFullYear();
      const startYear = new Date(window.start).getUTCFullYear();
      distance = Number.POSITIVE_INFINITY;
      for (const shift of [year - startYear - 1, year - startYear, year - startYear + 1]) {
        const start = shiftYears(window.start, shift);
        distance = Math.min(distance, distanceTo(at, start, start + span));
      }
    } else distance = distanceTo(at, window.start, window.end);
    const halfLife = Math.max(2 * DAY, span / 4);
    best = Math.max(best, 2 ** (-distance / halfLife));
  }
  return best;
}

function distanceTo(at: number, start: number, end: number): number {
  return at < start ? start - at : at >= end ? at - end : 0;
}

function shiftYears(instant: number, years: number): number {
  const date = new Date(instant);
  date.setUTCFullYear(date.getUTCFullYear() + years);
  return date.getTime();
}
