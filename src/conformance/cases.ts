// The Autobahn|Testsuite fuzzing cases, as data: groups 1–7, 9 and 10, numbered as
// Autobahn numbers them. Each case says what the peer sends (frames, in which
// chopping, with which pauses), the events it must see from the implementation
// (echoed messages, pongs, the checkpoints of the fail-fast cases), and how the
// connection must close (who closes first, the allowed close codes, whether the
// closing handshake must be clean) — Autobahn's `expected` and `expectedClose`.
// Where Autobahn allows a NON-STRICT outcome it is listed; where Autobahn only
// reports (INFORMATIONAL), `ok` pins what omniws does.
//
// Timings are Autobahn's divided down (its 1 s waits become ~100 ms) so the whole table
// runs in seconds; sizes are Autobahn's, except that group 9 can be scaled down.

import type { DeflateResponse } from './deflate.js';
import type { Bytes, FrameSpec, ImplOptions } from './peer.js';

export const TEXT = 0x1;
export const BINARY = 0x2;
export const CONT = 0x0;
export const CLOSE = 0x8;
export const PING = 0x9;
export const PONG = 0xa;

export type Step =
  /** Frames in one write, or `chop` bytes per write (1 = octet-wise), or `sync`: one write per frame. */
  | { send: FrameSpec[]; chop?: number; sync?: boolean }
  /** One message as Autobahn's sendMessage sends it: in frames of `fragmentSize` if given. */
  | { message: { op: number; data: Bytes; fragmentSize?: number }; chop?: number }
  /** A frame header alone (its payload follows in `frameData` steps, Autobahn's beginMessageFrame). */
  | { frameStart: { op: number; length: number; fin?: boolean } }
  | { frameData: Bytes }
  | { wait: number }
  /**
   * Autobahn's continueLater + "if still open": wait `ms` (less if the implementation's
   * close frame arrives); still open → record `{ timeout: label }` and go on; closed → stop.
   */
  | { checkpoint: string; ms: number }
  /** A close frame: with a code (and reason), or `payload` as is, or none for an empty one. */
  | { close: number | null; reason?: Bytes; payload?: Bytes; rsv?: number }
  /** Send one message, await its echo, `count` times (9.7 / 9.8); checked inside the step. */
  | { echoLoop: { count: number; length: number; binary: boolean } }
  /**
   * echoLoop with permessage-deflate (12.x / 13.x): `data` compressed by the peer, sent in
   * frames of `fragmentSize` compressed bytes (0: one frame), its echo inflated and compared.
   */
  | { deflateLoop: { count: number; data: Bytes; binary: boolean; fragmentSize: number } };

export type Ev = { message: Bytes; binary?: boolean } | { pong: Bytes } | { timeout: string };

export interface CloseExpectation {
  /** The peer (Autobahn) sends the first close frame: Autobahn's closedByMe. */
  byPeer: boolean;
  /** Allowed codes in the implementation's close frame; 1005 allows an empty one. */
  codes: number[];
  /** The closing handshake must complete and the TCP close be orderly. */
  clean: boolean;
  /** Closing from the wrong side fails the whole case (the UTF-8 cases). */
  wrongEndpointFatal?: boolean;
}

export interface Case {
  id: string;
  description: string;
  steps: Step[];
  /** Events that make the case OK, in order (Autobahn's expected[OK]). */
  ok: Ev[];
  /** Events Autobahn accepts as NON-STRICT. */
  nonStrict?: Ev[];
  close: CloseExpectation;
  /** Autobahn only reports this case; `ok` and `close` pin omniws' behaviour. */
  informational?: boolean;
  /** Settings of the implementation's echo endpoint. */
  impl?: ImplOptions;
  /** How many frames the implementation must use for the first echoed message. */
  echoFrames?: number;
  /** Time allowed for the outcome in ms (Autobahn's killAfter / closeAfter); default 2000. */
  timeout?: number;
  /**
   * permessage-deflate must be agreed, with these parameters; the peer then compresses,
   * inflates the implementation's messages and requires every one of them compressed.
   */
  deflate?: { expect: Partial<DeflateResponse> };
}

// ── helpers that only build data ────────────────────────────────────────────

const fail1002: CloseExpectation = { byPeer: false, codes: [1002], clean: false };
const fail1007: CloseExpectation = {
  byPeer: false,
  codes: [1007],
  clean: false,
  wrongEndpointFatal: true,
};
const normal: CloseExpectation = { byPeer: true, codes: [1000], clean: true };

const FE = Uint8Array.of(0xfe);
const rep = (unit: string | Uint8Array, length: number): Bytes => ({ repeat: unit, length });
const hex = (h: string): Bytes => ({ hex: h });
const text = (data: Bytes, fin = true): FrameSpec => ({ op: TEXT, data, fin });
const cont = (data: Bytes, fin = true): FrameSpec => ({ op: CONT, data, fin });

// ── 1 Framing ────────────────────────────────────────────────────────────────

const SIZES_1 = [0, 125, 126, 127, 128, 65535, 65536];

function group1(): Case[] {
  const out: Case[] = [];
  for (const [sub, op, unit, kind] of [
    [1, TEXT, '*', 'text'],
    [2, BINARY, FE, 'binary'],
  ] as const) {
    const binary = op === BINARY;
    SIZES_1.forEach((n, i) => {
      out.push({
        id: `1.${sub}.${i + 1}`,
        description: `Send ${kind} message with payload of length ${n}.`,
        steps: [{ send: [{ op, data: rep(unit, n) }] }],
        ok: [{ message: rep(unit, n), binary }],
        close: normal,
      });
    });
    out.push({
      id: `1.${sub}.8`,
      description: `Send ${kind} message with payload of length 65536, sent out in chops of 997 octets.`,
      steps: [{ send: [{ op, data: rep(unit, 65536) }], chop: 997 }],
      ok: [{ message: rep(unit, 65536), binary }],
      close: normal,
    });
  }
  return out;
}

// ── 2 Pings/Pongs ────────────────────────────────────────────────────────────

function group2(): Case[] {
  const pings = Array.from({ length: 10 }, (_, i) => `payload-${i}`);
  return [
    {
      id: '2.1',
      description: 'Send ping without payload.',
      steps: [{ send: [{ op: PING }] }],
      ok: [{ pong: '' }],
      close: normal,
    },
    {
      id: '2.2',
      description: 'Send ping with small text payload.',
      steps: [{ send: [{ op: PING, data: 'Hello, world!' }] }],
      ok: [{ pong: 'Hello, world!' }],
      close: normal,
    },
    {
      id: '2.3',
      description: 'Send ping with small binary (non UTF-8) payload.',
      steps: [{ send: [{ op: PING, data: hex('00fffefdfcfb00ff') }] }],
      ok: [{ pong: hex('00fffefdfcfb00ff') }],
      close: normal,
    },
    {
      id: '2.4',
      description: 'Send ping with binary payload of 125 octets.',
      steps: [{ send: [{ op: PING, data: rep(FE, 125) }] }],
      ok: [{ pong: rep(FE, 125) }],
      close: normal,
    },
    {
      id: '2.5',
      description: 'Send ping with binary payload of 126 octets.',
      steps: [{ send: [{ op: PING, data: rep(FE, 126) }] }],
      ok: [],
      close: fail1002,
    },
    {
      id: '2.6',
      description: 'Send ping with binary payload of 125 octets, sent in octet-wise chops.',
      steps: [{ send: [{ op: PING, data: rep(FE, 125) }], chop: 1 }],
      ok: [{ pong: rep(FE, 125) }],
      close: normal,
    },
    {
      id: '2.7',
      description: 'Send unsolicited pong without payload. Verify nothing is received.',
      steps: [{ send: [{ op: PONG }] }, { close: 1000 }],
      ok: [],
      close: normal,
    },
    {
      id: '2.8',
      description: 'Send unsolicited pong with payload. Verify nothing is received.',
      steps: [{ send: [{ op: PONG, data: 'unsolicited pong payload' }] }, { close: 1000 }],
      ok: [],
      close: normal,
    },
    {
      id: '2.9',
      description:
        'Send unsolicited pong with payload. Send ping with payload. Verify pong for ping.',
      steps: [
        {
          send: [
            { op: PONG, data: 'unsolicited pong payload' },
            { op: PING, data: 'ping payload' },
          ],
        },
      ],
      ok: [{ pong: 'ping payload' }],
      close: normal,
    },
    {
      id: '2.10',
      description: 'Send 10 pings with payload.',
      steps: [{ send: pings.map((p) => ({ op: PING, data: p })) }],
      ok: pings.map((p) => ({ pong: p })),
      close: normal,
    },
    {
      id: '2.11',
      description: 'Send 10 pings with payload, sent in octet-wise chops.',
      steps: [{ send: pings.map((p) => ({ op: PING, data: p })), chop: 1 }],
      ok: pings.map((p) => ({ pong: p })),
      close: normal,
    },
  ];
}

// ── 3 Reserved bits ──────────────────────────────────────────────────────────

function group3(): Case[] {
  const hello = 'Hello, world!';
  const thenBad = (rsv: number, chopping: { chop?: number; sync?: boolean }, id: string): Case => ({
    id,
    description: `Send small text message, then send again with RSV = ${rsv}, then send ping.`,
    steps: [{ send: [text(hello), { op: TEXT, data: hello, rsv }, { op: PING }], ...chopping }],
    ok: [{ message: hello }],
    nonStrict: [],
    close: fail1002,
  });
  return [
    {
      id: '3.1',
      description: 'Send small text message with RSV = 1.',
      steps: [{ send: [{ op: TEXT, data: hello, rsv: 1 }] }],
      ok: [],
      close: fail1002,
    },
    thenBad(2, {}, '3.2'),
    thenBad(3, { sync: true }, '3.3'),
    thenBad(4, { chop: 1 }, '3.4'),
    {
      id: '3.5',
      description: 'Send small binary message with RSV = 5.',
      steps: [{ send: [{ op: BINARY, data: hex('00fffefdfcfb00ff'), rsv: 5 }] }],
      ok: [],
      close: fail1002,
    },
    {
      id: '3.6',
      description: 'Send ping with RSV = 6.',
      steps: [{ send: [{ op: PING, data: hello, rsv: 6 }] }],
      ok: [],
      close: fail1002,
    },
    {
      id: '3.7',
      description: 'Send close with RSV = 7.',
      steps: [{ send: [{ op: CLOSE, rsv: 7 }] }],
      ok: [],
      close: fail1002,
    },
  ];
}

// ── 4 Opcodes ────────────────────────────────────────────────────────────────

function group4(): Case[] {
  const out: Case[] = [];
  const payload = 'reserved opcode payload';
  for (const [sub, ops, kind] of [
    [1, [3, 4, 5, 6, 7], 'non-control'],
    [2, [11, 12, 13, 14, 15], 'control'],
  ] as const) {
    ops.forEach((op, i) => {
      const id = `4.${sub}.${i + 1}`;
      const withPayload = i !== 0 && i !== 2;
      const bad: FrameSpec = withPayload ? { op, data: payload } : { op };
      if (i < 2) {
        out.push({
          id,
          description: `Send frame with reserved ${kind} opcode = ${op}${withPayload ? ' and non-empty payload' : ''}.`,
          steps: [{ send: [bad] }],
          ok: [],
          close: fail1002,
        });
      } else {
        out.push({
          id,
          description: `Send small text message, then frame with reserved ${kind} opcode = ${op}${withPayload ? ' and non-empty payload' : ''}, then ping.`,
          steps: [{ send: [text('Hello, world!'), bad, { op: PING }] }],
          ok: [{ message: 'Hello, world!' }],
          nonStrict: [],
          close: fail1002,
        });
      }
    });
  }
  return out;
}

// ── 5 Fragmentation ──────────────────────────────────────────────────────────

function group5(): Case[] {
  const f = ['fragment1', 'fragment2', 'fragment3', 'fragment4', 'fragment5'] as const;
  const chops: [string, { chop?: number; sync?: boolean }][] = [
    ['in one chop', {}],
    ['in per-frame chops', { sync: true }],
    ['in octet-wise chops', { chop: 1 }],
  ];
  const out: Case[] = [
    {
      id: '5.1',
      description: 'Send ping fragmented into 2 fragments.',
      steps: [{ send: [{ op: PING, data: f[0], fin: false }, cont(f[1])] }],
      ok: [],
      close: fail1002,
    },
    {
      id: '5.2',
      description: 'Send pong fragmented into 2 fragments.',
      steps: [{ send: [{ op: PONG, data: f[0], fin: false }, cont(f[1])] }],
      ok: [],
      close: fail1002,
    },
  ];
  // 5.3–5.5: a text message in 2 fragments; 5.6–5.8: with a ping in between
  [
    ['5.3', {}],
    ['5.4', { chop: 1 }],
    ['5.5', { sync: true }],
  ].forEach(([id, ch]) => {
    out.push({
      id: id as string,
      description: 'Send text message fragmented into 2 fragments.',
      steps: [{ send: [text(f[0], false), cont(f[1])], ...(ch as object) }],
      ok: [{ message: f[0] + f[1] }],
      close: normal,
    });
  });
  [
    ['5.6', {}],
    ['5.7', { chop: 1 }],
    ['5.8', { sync: true }],
  ].forEach(([id, ch]) => {
    out.push({
      id: id as string,
      description:
        'Send text message fragmented into 2 fragments, with a ping with payload in between.',
      steps: [
        {
          send: [text(f[0], false), { op: PING, data: 'ping payload' }, cont(f[1])],
          ...(ch as object),
        },
      ],
      ok: [{ pong: 'ping payload' }, { message: f[0] + f[1] }],
      close: normal,
    });
  });
  // 5.9–5.14: a continuation with nothing to continue, then a text message
  chops.forEach(([how, ch], i) => {
    out.push({
      id: `5.${9 + i}`,
      description: `Send unfragmented text message after continuation frame with FIN = true, where there is nothing to continue, sent ${how}.`,
      steps: [{ send: [cont('non-continuation payload'), text('Hello, world!')], ...ch }],
      ok: [],
      close: fail1002,
    });
  });
  chops.forEach(([how, ch], i) => {
    out.push({
      id: `5.${12 + i}`,
      description: `Send unfragmented text message after continuation frame with FIN = false, where there is nothing to continue, sent ${how}.`,
      steps: [{ send: [cont('non-continuation payload', false), text('Hello, world!')], ...ch }],
      ok: [],
      close: fail1002,
    });
  });
  out.push(
    {
      id: '5.15',
      description:
        'Send text message fragmented into 2 fragments, then continuation frame with FIN = false where there is nothing to continue, then unfragmented text message, all sent in one chop.',
      steps: [{ send: [text(f[0], false), cont(f[1]), cont(f[2], false), text(f[3])] }],
      ok: [{ message: f[0] + f[1] }],
      nonStrict: [],
      close: fail1002,
    },
    {
      id: '5.16',
      description:
        'Repeated 2x: continuation frame with FIN = false (nothing to continue), then text message fragmented into 2 fragments.',
      steps: [
        {
          send: [0, 1].flatMap(() => [cont(f[0], false), text(f[1], false), cont(f[2])]),
        },
      ],
      ok: [],
      close: fail1002,
    },
    {
      id: '5.17',
      description:
        'Repeated 2x: continuation frame with FIN = true (nothing to continue), then text message fragmented into 2 fragments.',
      steps: [{ send: [0, 1].flatMap(() => [cont(f[0]), text(f[1], false), cont(f[2])]) }],
      ok: [],
      close: fail1002,
    },
    {
      id: '5.18',
      description:
        'Send text message fragmented into 2 fragments, with both frame opcodes set to text.',
      steps: [{ send: [text(f[0], false), text(f[1])] }],
      ok: [],
      close: fail1002,
    },
  );
  for (const [id, sync] of [
    ['5.19', false],
    ['5.20', true],
  ] as const) {
    out.push({
      id,
      description: `A fragmented text message in 5 frames with 2 pings in between and a pause${sync ? ', every frame its own write' : ''}.`,
      steps: [
        { send: [text(f[0], false), cont(f[1], false), { op: PING, data: 'pongme 1!' }], sync },
        { wait: 100 },
        {
          send: [cont(f[2], false), cont(f[3], false), { op: PING, data: 'pongme 2!' }, cont(f[4])],
          sync,
        },
      ],
      ok: [{ pong: 'pongme 1!' }, { pong: 'pongme 2!' }, { message: f.join('') }],
      close: normal,
    });
  }
  return out;
}

// ── 6 UTF-8 handling ─────────────────────────────────────────────────────────

const KOSME = 'cebae1bdb9cf83cebcceb5'; // κόσμε
const KOSME_INVALID = `${KOSME}eda080656469746564`; // κόσμε + a surrogate + "edited"

/**
 * Autobahn's 6.5–6.23: the sequences of Markus Kuhn's UTF-8 decoder test
 * (UTF-8-test.txt), each sent as one text message: [valid?, hex].
 */
export const UTF8_SEQUENCES: [string, [boolean, string][]][] = [
  [
    'Some valid UTF-8 sequences',
    [
      [true, '68656c6c6f24776f726c64'],
      [true, '68656c6c6fc2a2776f726c64'],
      [true, '68656c6c6fe282ac776f726c64'],
      [true, '68656c6c6ff0a4ada2776f726c64'],
      [true, KOSME],
    ],
  ],
  [
    'All prefixes of a valid UTF-8 string that contains multi-byte code points',
    // κόσμε cut after each byte: valid exactly where a code point ends (2, 5, 7, 9, 11)
    Array.from({ length: 11 }, (_, i): [boolean, string] => [
      [2, 5, 7, 9, 11].includes(i + 1),
      KOSME.slice(0, 2 * (i + 1)),
    ]),
  ],
  [
    'First possible sequence of a certain length',
    [
      [true, '00'],
      [true, 'c280'],
      [true, 'e0a080'],
      [true, 'f0908080'],
    ],
  ],
  [
    'First possible sequence length 5/6 (invalid codepoints)',
    [
      [false, 'f888808080'],
      [false, 'fc8480808080'],
    ],
  ],
  [
    'Last possible sequence of a certain length',
    [
      [true, '7f'],
      [true, 'dfbf'],
      [true, 'efbfbf'],
      [true, 'f48fbfbf'],
    ],
  ],
  [
    'Last possible sequence length 4/5/6 (invalid codepoints)',
    [
      [false, 'f7bfbfbf'],
      [false, 'fbbfbfbfbf'],
      [false, 'fdbfbfbfbfbf'],
    ],
  ],
  [
    'Other boundary conditions',
    [
      [true, 'ed9fbf'],
      [true, 'ee8080'],
      [true, 'efbfbd'],
      [true, 'f48fbfbf'],
      [false, 'f4908080'],
    ],
  ],
  [
    'Unexpected continuation bytes',
    [
      [false, '80'],
      [false, 'bf'],
      [false, '80bf'],
      [false, '80bf80'],
      [false, '80bf80bf'],
      [false, '80bf80bf80'],
      [false, '80bf80bf80bf'],
      // 0x80 … 0xbe
      [false, Array.from({ length: 0x3f }, (_, i) => (0x80 + i).toString(16)).join('')],
    ],
  ],
  [
    'Lonely start characters',
    // each start byte of a range (end excluded), followed by a space
    (
      [
        [0xc0, 0xdf],
        [0xe0, 0xef],
        [0xf0, 0xf7],
        [0xf8, 0xfb],
        [0xfc, 0xfd],
      ] as const
    ).map(([a, b]): [boolean, string] => [
      false,
      Array.from({ length: b - a }, (_, i) => `${(a + i).toString(16)}20`).join(''),
    ]),
  ],
  [
    'Sequences with last continuation byte missing',
    [
      'c0',
      'e080',
      'f08080',
      'f8808080',
      'fc80808080',
      'df',
      'efbf',
      'f7bfbf',
      'fbbfbfbf',
      'fdbfbfbfbf',
    ].map((h): [boolean, string] => [false, h]),
  ],
  [
    'Concatenation of incomplete sequences',
    [[false, 'c0e080f08080f8808080fc80808080dfefbff7bfbffbbfbfbffdbfbfbfbf']],
  ],
  [
    'Impossible bytes',
    [
      [false, 'fe'],
      [false, 'ff'],
      [false, 'fefeffff'],
    ],
  ],
  [
    'Examples of an overlong ASCII character',
    ['c0af', 'e080af', 'f08080af', 'f8808080af', 'fc80808080af'].map((h): [boolean, string] => [
      false,
      h,
    ]),
  ],
  [
    'Maximum overlong sequences',
    ['c1bf', 'e09fbf', 'f08fbfbf', 'f887bfbfbf', 'fc83bfbfbfbf'].map((h): [boolean, string] => [
      false,
      h,
    ]),
  ],
  [
    'Overlong representation of the NUL character',
    ['c080', 'e08080', 'f0808080', 'f880808080', 'fc8080808080'].map((h): [boolean, string] => [
      false,
      h,
    ]),
  ],
  [
    'Single UTF-16 surrogates',
    ['eda080', 'edadbf', 'edae80', 'edafbf', 'edb080', 'edbe80', 'edbfbf'].map(
      (h): [boolean, string] => [false, h],
    ),
  ],
  [
    'Paired UTF-16 surrogates',
    [
      'eda080edb080',
      'eda080edbfbf',
      'edadbfedb080',
      'edadbfedbfbf',
      'edae80edb080',
      'edae80edbfbf',
      'edafbfedb080',
      'edafbfedbfbf',
    ].map((h): [boolean, string] => [false, h]),
  ],
  [
    'Non-character code points (valid UTF-8)',
    [
      [true, 'efbfbe'],
      [true, 'efbfbf'],
      // F0–F4 × 8F/9F/AF/BF × BF × BE/BF, without code points above U+10FFFF or overlongs
      ...['f0', 'f1', 'f2', 'f3', 'f4'].flatMap((a) =>
        ['8f', '9f', 'af', 'bf']
          .filter((b) => a !== 'f4' || b === '8f')
          .flatMap((b) => ['be', 'bf'].map((c) => `${a}${b}bf${c}`))
          .filter((h) => h !== 'f08fbfbe' && h !== 'f08fbfbf')
          .map((h): [boolean, string] => [true, h]),
      ),
    ],
  ],
  [
    'Unicode specials (i.e. replacement char)',
    ['efbfb9', 'efbfba', 'efbfbb', 'efbfbc', 'efbfbd', 'efbfbe', 'efbfbf'].map(
      (h): [boolean, string] => [true, h],
    ),
  ],
];

function group6(): Case[] {
  const hello = 'Hello-µ@ßöäüàá-UTF-8!!';
  const out: Case[] = [
    {
      id: '6.1.1',
      description: 'Send text message of length 0.',
      steps: [{ send: [text('')] }],
      ok: [{ message: '' }],
      close: normal,
    },
    {
      id: '6.1.2',
      description: 'Send fragmented text message, 3 fragments each of length 0.',
      steps: [{ send: [text('', false), cont('', false), cont('')] }],
      ok: [{ message: '' }],
      close: normal,
    },
    {
      id: '6.1.3',
      description: 'Send fragmented text message, 3 fragments, first and last of length 0.',
      steps: [{ send: [text('', false), cont('middle frame payload', false), cont('')] }],
      ok: [{ message: 'middle frame payload' }],
      close: normal,
    },
    {
      id: '6.2.1',
      description: 'Send a valid UTF-8 text message in one fragment.',
      steps: [{ send: [text(hello)] }],
      ok: [{ message: hello }],
      close: normal,
    },
    {
      id: '6.2.2',
      description:
        'Send a valid UTF-8 text message in two fragments, split on a code point boundary.',
      steps: [{ send: [text('Hello-µ@ßöä', false), cont('üàá-UTF-8!!')] }],
      ok: [{ message: hello }],
      close: normal,
    },
    {
      id: '6.2.3',
      description:
        'Send a valid UTF-8 text message in fragments of 1 octet, frames ending inside code points.',
      steps: [{ message: { op: TEXT, data: hello, fragmentSize: 1 } }],
      ok: [{ message: hello }],
      close: normal,
    },
    {
      id: '6.2.4',
      description: 'Send a valid UTF-8 text message (κόσμε) in fragments of 1 octet.',
      steps: [{ message: { op: TEXT, data: hex(KOSME), fragmentSize: 1 } }],
      ok: [{ message: hex(KOSME) }],
      close: normal,
    },
    {
      id: '6.3.1',
      description: 'Send invalid UTF-8 text message unfragmented.',
      steps: [{ send: [text(hex(KOSME_INVALID))] }],
      ok: [],
      close: fail1007,
    },
    {
      id: '6.3.2',
      description: 'Send invalid UTF-8 text message in fragments of 1 octet.',
      steps: [{ message: { op: TEXT, data: hex(KOSME_INVALID), fragmentSize: 1 } }],
      ok: [],
      close: fail1007,
    },
  ];
  // 6.4.x: fail fast. The invalid part must be refused before the message is complete:
  // the close frame has to arrive before part 3 is sent (checkpoint "B" not reached).
  const P = Buffer.from(`${KOSME}f4908080656469746564`, 'hex'); // 0x110000 is out of range
  const failFast = (
    id: string,
    description: string,
    parts: [Buffer, Buffer, Buffer],
    oneFrame: boolean,
  ): Case => ({
    id,
    description,
    steps: oneFrame
      ? [
          { frameStart: { op: TEXT, length: P.length } },
          { frameData: parts[0] },
          { checkpoint: 'A', ms: 100 },
          { frameData: parts[1] },
          { checkpoint: 'B', ms: 1000 },
          { frameData: parts[2] },
        ]
      : [
          { send: [text(parts[0], false)] },
          { checkpoint: 'A', ms: 100 },
          { send: [cont(parts[1], false)] },
          { checkpoint: 'B', ms: 1000 },
          { send: [cont(parts[2])] },
        ],
    ok: [{ timeout: 'A' }],
    nonStrict: [{ timeout: 'A' }, { timeout: 'B' }],
    close: fail1007,
  });
  const at11 = [P.subarray(0, 11), P.subarray(11, 15), P.subarray(15)] as [Buffer, Buffer, Buffer];
  const at12 = [P.subarray(0, 12), P.subarray(12, 13), P.subarray(13)] as [Buffer, Buffer, Buffer];
  out.push(
    failFast(
      '6.4.1',
      'Send invalid UTF-8 text message in 3 frames; the 2nd frame makes it invalid (fail fast).',
      at11,
      false,
    ),
    failFast(
      '6.4.2',
      'Same as 6.4.1, but the 2nd frame holds only the octet that makes the payload invalid.',
      at12,
      false,
    ),
    failFast(
      '6.4.3',
      'Same as 6.4.1, but one frame sent in 3 chops instead of 3 frames.',
      at11,
      true,
    ),
    failFast(
      '6.4.4',
      'Same as 6.4.2, but one frame sent in 3 chops instead of 3 frames.',
      at12,
      true,
    ),
  );
  UTF8_SEQUENCES.forEach(([, seqs], g) => {
    seqs.forEach(([valid, h], j) => {
      out.push({
        id: `6.${5 + g}.${j + 1}`,
        description: `Send a text message with payload which is ${valid ? '' : 'not '}valid UTF-8 in one fragment. Payload: 0x${h}`,
        steps: [{ send: [text(hex(h))] }],
        ok: valid ? [{ message: hex(h) }] : [],
        close: valid ? normal : fail1007,
        timeout: 500,
      });
    });
  });
  return out;
}

// ── 7 Close handling ─────────────────────────────────────────────────────────

const VALID_CODES = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999];
const INVALID_CODES = [0, 999, 1004, 1005, 1006, 1016, 1100, 2000, 2999];

function group7(): Case[] {
  const hello = 'Hello World!';
  const big = rep('BAsd7&jh23', 256 * 1024);
  const out: Case[] = [
    {
      id: '7.1.1',
      description: 'Send a message followed by a close frame.',
      steps: [{ send: [text(hello)] }, { close: 1000 }],
      ok: [{ message: hello }],
      close: normal,
    },
    {
      id: '7.1.2',
      description: 'Send two close frames.',
      steps: [{ close: 1000 }, { close: 1000 }],
      ok: [],
      close: normal,
    },
    {
      id: '7.1.3',
      description: 'Send a ping after the close message.',
      steps: [{ close: 1000 }, { send: [{ op: PING, data: hello }] }],
      ok: [],
      close: normal,
    },
    {
      id: '7.1.4',
      description: 'Send a text message after sending a close frame.',
      steps: [{ close: 1000 }, { send: [text(hello)] }],
      ok: [],
      close: normal,
    },
    {
      id: '7.1.5',
      description: 'Send message fragment1 followed by close then fragment.',
      steps: [{ send: [text('fragment1', false)] }, { close: 1000 }, { send: [cont('fragment2')] }],
      ok: [],
      close: normal,
    },
    {
      id: '7.1.6',
      description: 'Send 256K message followed by close then a ping.',
      steps: [{ send: [text(big), text(hello)] }, { close: 1000 }, { send: [{ op: PING }] }],
      // Autobahn reports either order; omniws handles frames in order: both echoes, then close
      ok: [{ message: big }, { message: hello }],
      informational: true,
      close: normal,
    },
    {
      id: '7.3.1',
      description: 'Send a close frame with payload length 0 (no close code, no close reason).',
      steps: [{ close: null }],
      ok: [],
      // Autobahn: "normal code or empty"; omniws answers an empty close with an empty close
      close: { byPeer: true, codes: [1000, 1005], clean: true },
    },
    {
      id: '7.3.2',
      description: 'Send a close frame with payload length 1.',
      steps: [{ close: null, payload: 'a' }],
      ok: [],
      close: { byPeer: true, codes: [1002], clean: false },
    },
    {
      id: '7.3.3',
      description: 'Send a close frame with payload length 2 (regular close with a code).',
      steps: [{ close: 1000 }],
      ok: [],
      close: normal,
    },
    {
      id: '7.3.4',
      description: 'Send a close frame with close code and close reason.',
      steps: [{ close: 1000, reason: hello }],
      ok: [],
      close: normal,
    },
    {
      id: '7.3.5',
      description: 'Send a close frame with close code and close reason of maximum length (123).',
      steps: [{ close: 1000, reason: rep('*', 123) }],
      ok: [],
      close: normal,
    },
    {
      id: '7.3.6',
      description: 'Send a close frame with close code and close reason which is too long (124).',
      steps: [{ close: 1000, reason: rep('*', 124) }],
      ok: [],
      close: { byPeer: true, codes: [1002], clean: false },
    },
    {
      id: '7.5.1',
      description: 'Send a close frame with invalid UTF-8 payload.',
      steps: [{ close: 1000, reason: hex(KOSME_INVALID) }],
      ok: [],
      close: { byPeer: true, codes: [1002, 1007], clean: false },
    },
  ];
  VALID_CODES.forEach((code, i) => {
    out.push({
      id: `7.7.${i + 1}`,
      description: `Send close with valid close code ${code}.`,
      steps: [{ close: code }],
      ok: [],
      close: { byPeer: true, codes: [1000, code], clean: true },
    });
  });
  INVALID_CODES.forEach((code, i) => {
    out.push({
      id: `7.9.${i + 1}`,
      description: `Send close with invalid close code ${code}.`,
      steps: [{ close: code }],
      ok: [],
      close: { byPeer: true, codes: [1002], clean: false },
    });
  });
  [5000, 65535].forEach((code, i) => {
    out.push({
      id: `7.13.${i + 1}`,
      description: `Send close with close code ${code}.`,
      steps: [{ close: code }],
      ok: [],
      informational: true,
      // Autobahn allows 1000, the code or 1002; omniws refuses a code outside 1000–4999
      close: { byPeer: true, codes: [1002], clean: false },
    });
  });
  return out;
}

// ── 9 Limits/performance ─────────────────────────────────────────────────────

const KiB = 1024;
const MiB = 1024 * 1024;

/** `scale` divides the sizes of 9.3–9.6 (1 = Autobahn's own); 9.1/9.2 go up to 16 MiB always. */
function group9(scale: number): Case[] {
  const out: Case[] = [];
  const big = (n: number) => Math.max(1, Math.floor(n / scale));
  const sizeName = (n: number) => (n >= MiB ? `${n / MiB}M` : `${n / KiB}K`);
  [64 * KiB, 256 * KiB, MiB, 4 * MiB, 8 * MiB, 16 * MiB].forEach((n, i) => {
    for (const [sub, op, unit] of [
      [1, TEXT, 'BAsd7&jh23'],
      [2, BINARY, FE],
    ] as const) {
      out.push({
        id: `9.${sub}.${i + 1}`,
        description: `Send ${op === TEXT ? 'text' : 'binary'} message with payload of length ${sizeName(n)}.`,
        steps: [{ send: [{ op, data: rep(unit, n) }] }],
        ok: [{ message: rep(unit, n), binary: op === BINARY }],
        close: normal,
        timeout: 20_000,
      });
    }
  });
  const frags = [64, 256, KiB, 4 * KiB, 16 * KiB, 64 * KiB, 256 * KiB, MiB, 4 * MiB];
  frags.forEach((size, i) => {
    const n = big(4 * MiB);
    for (const [sub, op, unit] of [
      [3, TEXT, '*'],
      [4, BINARY, FE],
    ] as const) {
      out.push({
        id: `9.${sub}.${i + 1}`,
        description: `Send fragmented ${op === TEXT ? 'text' : 'binary'} message of length 4M${n !== 4 * MiB ? ` (scaled to ${n})` : ''} in fragments of ${size}.`,
        steps: [{ message: { op, data: rep(unit, n), fragmentSize: size } }],
        ok: [{ message: rep(unit, n), binary: op === BINARY }],
        close: normal,
        timeout: 20_000,
      });
    }
  });
  [64, 128, 256, 512, 1024, 2048].forEach((chop, i) => {
    const n = big(MiB);
    for (const [sub, op, unit] of [
      [5, TEXT, 'BAsd7&jh23'],
      [6, BINARY, FE],
    ] as const) {
      out.push({
        id: `9.${sub}.${i + 1}`,
        description: `Send ${op === TEXT ? 'text' : 'binary'} message of length 1M${n !== MiB ? ` (scaled to ${n})` : ''} in chops of ${chop} octets.`,
        steps: [{ send: [{ op, data: rep(unit, n) }], chop }],
        ok: [{ message: rep(unit, n), binary: op === BINARY }],
        close: normal,
        timeout: 20_000,
      });
    }
  });
  [0, 16, 64, 256, 1024, 4096].forEach((length, i) => {
    for (const [sub, binary] of [
      [7, false],
      [8, true],
    ] as const) {
      out.push({
        id: `9.${sub}.${i + 1}`,
        description: `Send 1000 ${binary ? 'binary' : 'text'} messages of payload size ${length}, one at a time (round trips).`,
        steps: [{ echoLoop: { count: 1000, length, binary } }],
        ok: [],
        close: normal,
        timeout: 20_000,
      });
    }
  });
  return out.sort((a, b) => compareIds(a.id, b.id));
}

// ── 10 Miscellaneous ─────────────────────────────────────────────────────────

function group10(): Case[] {
  const payload = rep('*', 65536);
  return [
    {
      id: '10.1.1',
      description: 'Send text message with payload of length 65536 auto-fragmented with 1300.',
      steps: [{ message: { op: TEXT, data: payload, fragmentSize: 1300 } }],
      ok: [{ message: payload }],
      close: normal,
    },
    {
      // Autobahn's peer auto-fragments; this variant checks our own auto-fragmentation:
      // 65536 / 1300 → a text frame and 50 continuation frames
      id: '10.1.1',
      description:
        'Same, and the implementation echoes it auto-fragmented with fragmentSize = 1300 (51 frames).',
      steps: [{ send: [text(payload)] }],
      ok: [{ message: payload }],
      close: normal,
      impl: { fragmentSize: 1300 },
      echoFrames: 51,
    },
  ];
}

export function compareIds(a: string, b: string): number {
  const x = a.split('.').map(Number);
  const y = b.split('.').map(Number);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? -1) - (y[i] ?? -1);
    if (d !== 0) return d;
  }
  return 0;
}

export interface TableOptions {
  /** Divide the sizes of 9.3–9.6 by this (default 1: Autobahn's sizes). */
  group9Scale?: number;
}

/** Every case, by Autobahn group. */
export function caseTable(opts: TableOptions = {}): Map<number, Case[]> {
  return new Map([
    [1, group1()],
    [2, group2()],
    [3, group3()],
    [4, group4()],
    [5, group5()],
    [6, group6()],
    [7, group7()],
    [9, group9(opts.group9Scale ?? 1)],
    [10, group10()],
  ]);
}
