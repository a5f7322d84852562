// qlog for HTTP/3 connections: one JSON-SEQ file (RFC 7464: each record starts with RS
// 0x1E and ends with LF) per connection, in the main schema of draft-ietf-quic-qlog as
// qlog 0.3 spells it (what qvis reads): a header record, then events
// { time, name: "category:event", data }. quiche's own qlog is not compiled into the
// binding we use, so the events come from our driver (datagrams, parameters, recovery
// metrics from quiche's path statistics, the connection's start and end) and our HTTP/3
// layer (frames and QPACK sections created and parsed, stream types, SETTINGS, GOAWAY).
// Not logged: QUIC packets and frames (inside quiche).

import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/** Where a connection writes its events; undefined when qlog is off. */
export interface QlogSink {
  event(name: string, data: Record<string, unknown>): void;
}

export const QLOG_VERSION = '0.3';

/** Open qlogs: what they hold is written out when the process exits. */
const open = new Set<Qlog>();
let exitHook = false;

export class Qlog implements QlogSink {
  readonly path: string;
  readonly #fd: number;
  readonly #start = performance.now();
  #pending: string[] = [];
  #scheduled = false;
  #closed = false;

  constructor(dir: string, odcid: string, vantage: 'client' | 'server', title: string) {
    mkdirSync(dir, { recursive: true });
    this.path = join(dir, `${odcid}_${vantage}.sqlog`);
    this.#fd = openSync(this.path, 'w');
    open.add(this);
    if (!exitHook) {
      exitHook = true;
      process.once('exit', () => {
        for (const q of open) q.close();
      });
    }
    this.#record({
      qlog_version: QLOG_VERSION,
      qlog_format: 'JSON-SEQ',
      title,
      description:
        'omniws: events of its QUIC driver and HTTP/3 layer (not quiche-internal packets)',
      trace: {
        vantage_point: { type: vantage, name: 'omniws' },
        common_fields: {
          ODCID: odcid,
          time_format: 'relative',
          reference_time: Date.now(),
          protocol_type: ['QUIC', 'HTTP3'],
        },
      },
    });
  }

  event(name: string, data: Record<string, unknown>): void {
    if (this.#closed) return;
    const time = Math.round((performance.now() - this.#start) * 1000) / 1000;
    this.#record({ time, name, data });
  }

  /** Write what is pending and close the file. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    open.delete(this);
    this.#flush();
    try {
      closeSync(this.#fd);
    } catch {
      // closed already
    }
  }

  #record(r: unknown): void {
    // RFC 7464: RS, the JSON text, LF
    this.#pending.push(`\x1e${JSON.stringify(r)}\n`);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => {
        this.#scheduled = false;
        this.#flush();
      });
    }
  }

  #flush(): void {
    if (this.#pending.length === 0) return;
    const text = this.#pending.join('');
    this.#pending = [];
    try {
      writeSync(this.#fd, text);
    } catch {
      // a full disk or a closed file: the log is a debugging aid, the connection goes on
    }
  }
}

/** Header fields as qlog spells them. */
export function qlogHeaders(
  fields: readonly { readonly 0: string; readonly 1: string }[],
): { name: string; value: string }[] {
  return fields.map((f) => ({ name: f[0], value: f[1] }));
}

const SETTING_NAMES: Record<number, string> = {
  1: 'qpack_max_table_capacity',
  6: 'max_field_section_size',
  7: 'qpack_blocked_streams',
  8: 'extended_connect',
  51: 'h3_datagram',
  // WebTransport's, every draft's (wt-wire.ts)
  16765559: 'h3_datagram_draft04',
  727725890: 'enable_webtransport',
  727725891: 'webtransport_max_sessions_draft02',
  3329323114: 'webtransport_max_sessions',
  350866729: 'wt_max_sessions',
  746385408: 'wt_enabled',
};

/** An HTTP/3 SETTINGS identifier as qlog names it (an unknown one by number). */
export function qlogSettingName(id: number): string {
  return SETTING_NAMES[id] ?? `unknown_0x${id.toString(16)}`;
}

/** HTTP/3 SETTINGS as qlog's http:parameters_set data. */
export function qlogSettings(settings: Iterable<[number, number]>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of settings) out[qlogSettingName(k)] = v;
  return out;
}
