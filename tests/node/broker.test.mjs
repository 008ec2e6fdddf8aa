// SPDX-License-Identifier: Apache-2.0
// The official `openai` npm client against openshell-broker, over its unix socket and its loopback
// TCP listener. Started by tests/node/run, which sets the environment below.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { test } from 'node:test';
import OpenAI from 'openai';
import { Agent, fetch as undiciFetch } from 'undici';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run tests/node/run`);
  return v;
};

const SOCKET = env('BROKER_SOCKET');
const TCP = env('BROKER_TCP_URL');
const FAKE = env('FAKE_URL');
const FAKE2 = env('FAKE2_URL');
const RECORD = env('FAKE_RECORD');
const MODEL = env('ROUTE_MODEL');
const PROVIDER_KEY = env('PROVIDER_API_KEY');
const CLIENT_KEY = 'client-key-that-must-never-reach-the-backend';

// What the fake GPU server answers with 12 tokens (deterministic).
const WORDS = ['Hello', 'from', 'the', 'openshell', 'fake', 'GPU', 'server', 'and', 'its', 'deterministic', 'tokens'];
const expectedText = (n) => Array.from({ length: n }, (_, i) => WORDS[i % WORDS.length]).join(' ');

const unixAgent = new Agent({ connect: { socketPath: SOCKET } });

// A client that reaches the broker over the unix socket; host picks the route (the broker routes by
// the request's Host, falling back to inference.local).
function unixClient(host = 'inference.local', opts = {}) {
  return new OpenAI({
    baseURL: `http://${host}/v1`,
    apiKey: CLIENT_KEY,
    maxRetries: 0,
    timeout: 20000,
    fetch: (url, init) => undiciFetch(url, { ...init, dispatcher: unixAgent }),
    ...opts,
  });
}

function tcpClient(opts = {}) {
  return new OpenAI({ baseURL: `${TCP}/v1`, apiKey: CLIENT_KEY, maxRetries: 0, timeout: 20000, ...opts });
}

async function fakeConfig(base, settings) {
  const r = await fetch(`${base}/fake/config`, { method: 'POST', body: JSON.stringify(settings) });
  assert.equal(r.status, 200, await r.text());
}

async function fakeStats(base) {
  return (await fetch(`${base}/fake/stats`)).json();
}

async function waitFor(what, cond) {
  for (let i = 0; i < 200; i++) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`timed out waiting for ${what}`);
}

const clients = [
  ['unix socket', () => unixClient()],
  ['loopback TCP', () => tcpClient()],
];

for (const [via, make] of clients) {
  test(`models.list via ${via}`, async () => {
    const ids = [];
    for await (const m of make().models.list()) ids.push(m.id);
    assert.deepEqual(ids, [MODEL]);
  });

  test(`chat.completions (not streamed) via ${via}`, async () => {
    const r = await make().chat.completions.create({
      model: 'whatever-the-agent-asks-for',
      messages: [{ role: 'user', content: 'say hello' }],
    });
    assert.equal(r.object, 'chat.completion');
    assert.equal(r.model, MODEL, 'the route overwrites the model');
    assert.equal(r.choices[0].message.content, expectedText(12));
    assert.equal(r.choices[0].finish_reason, 'stop');
    assert.equal(r.usage.completion_tokens, 12);
    assert.equal(r.usage.prompt_tokens, 2);
  });

  test(`chat.completions streamed via ${via}`, async () => {
    const stream = await make().chat.completions.create({
      model: 'x',
      messages: [{ role: 'user', content: 'stream please' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let usage = null;
    let chunks = 0;
    let finish = null;
    for await (const chunk of stream) {
      chunks++;
      assert.equal(chunk.model, MODEL);
      if (chunk.choices.length) {
        text += chunk.choices[0].delta.content ?? '';
        finish = chunk.choices[0].finish_reason ?? finish;
      }
      if (chunk.usage) usage = chunk.usage;
    }
    assert.equal(text, expectedText(12));
    assert.equal(finish, 'stop');
    assert.ok(chunks >= 14, `one chunk per token (got ${chunks})`);
    assert.equal(usage.completion_tokens, 12);
  });
}

test('the broker injects the provider credential and strips the client one', async () => {
  await unixClient().chat.completions.create({
    model: 'x',
    messages: [{ role: 'user', content: 'check my headers' }],
  }, { headers: { 'X-Api-Key': 'client-x-api-key', Cookie: 'session=1', 'OpenAI-Organization': 'org-1' } });
  const rec = readFileSync(RECORD, 'latin1');
  const [head, body] = rec.split('\r\n\r\n');
  const lines = head.split('\r\n').slice(1).map((l) => l.toLowerCase());
  assert.ok(lines.includes(`authorization: bearer ${PROVIDER_KEY.toLowerCase()}`), head);
  assert.ok(!rec.includes(CLIENT_KEY), 'client Authorization forwarded');
  assert.ok(!rec.includes('client-x-api-key'), 'client x-api-key forwarded');
  assert.ok(!lines.some((l) => l.startsWith('cookie:')), 'cookie forwarded');
  assert.ok(lines.includes('openai-organization: org-1'), 'pass-through header dropped');
  assert.equal(JSON.parse(body).model, MODEL);
  assert.equal(JSON.parse(body).messages[0].content, 'check my headers');
});

test('completions (streamed and not)', async () => {
  const c = tcpClient();
  const r = await c.completions.create({ model: 'x', prompt: 'once upon' });
  assert.equal(r.choices[0].text, expectedText(12));
  let text = '';
  for await (const ch of await c.completions.create({ model: 'x', prompt: 'p', stream: true })) {
    text += ch.choices[0]?.text ?? '';
  }
  assert.equal(text, expectedText(12));
});

test('responses (streamed and not)', async () => {
  const c = unixClient();
  const r = await c.responses.create({ model: 'x', input: 'hello' });
  assert.equal(r.status, 'completed');
  assert.equal(r.output_text, expectedText(12));
  const events = [];
  let text = '';
  for await (const ev of await c.responses.create({ model: 'x', input: 'hello', stream: true })) {
    events.push(ev.type);
    if (ev.type === 'response.output_text.delta') text += ev.delta;
  }
  assert.equal(events[0], 'response.created');
  assert.equal(events.at(-1), 'response.completed');
  assert.equal(text, expectedText(12));
});

test('embeddings (the client asks for base64 and decodes it)', async () => {
  const r = await tcpClient().embeddings.create({ model: 'x', input: ['a', 'b'] });
  assert.equal(r.data.length, 2);
  assert.equal(r.data[0].embedding.length, 8);
  assert.ok(Math.abs(r.data[1].embedding[1] - 0.012) < 1e-6);
});

test('max_tokens limits the answer', async () => {
  const r = await unixClient().chat.completions.create({ model: 'x', messages: [], max_tokens: 3 });
  assert.equal(r.choices[0].message.content, expectedText(3));
  assert.equal(r.choices[0].finish_reason, 'length');
});

test('error: a path outside the API is refused (403)', async () => {
  await assert.rejects(unixClient().get('/fake/stats'), (e) => {
    assert.ok(e instanceof OpenAI.PermissionDeniedError, e.constructor.name);
    assert.equal(e.status, 403);
    return true;
  });
});

test('error: backend HTTP 500 reaches the client as an APIError', async () => {
  await fakeConfig(FAKE2, { fail: '500', fail_count: 1 });
  await assert.rejects(unixClient('faulty.local').chat.completions.create({ model: 'x', messages: [] }), (e) => {
    assert.ok(e instanceof OpenAI.APIError, e.constructor.name);
    assert.ok(e.status >= 500, `status ${e.status}`);
    return true;
  });
  // and the next request is fine again
  const r = await unixClient('faulty.local').chat.completions.create({ model: 'x', messages: [] });
  assert.equal(r.choices[0].message.content, expectedText(12));
});

test('error: a malformed backend answer fails the request, and the broker keeps serving', async () => {
  // The broker streams answers through as they arrive, so a 200 whose JSON body is broken reaches the
  // client as it is (the client's parser rejects it); a broken head would be a 502.
  await fakeConfig(FAKE2, { fail: 'bad-json', fail_count: 1 });
  await assert.rejects(unixClient('faulty.local').chat.completions.create({ model: 'x', messages: [] }), (e) => {
    assert.ok(e instanceof SyntaxError || (e instanceof OpenAI.APIError && e.status === 502), `${e.constructor.name}: ${e.message}`);
    return true;
  });
  const r = await unixClient('faulty.local').chat.completions.create({ model: 'x', messages: [] });
  assert.equal(r.choices[0].message.content, expectedText(12));
  await fakeConfig(FAKE2, { fail: 'none' });
});

test('error: no backend reachable is a 503 "inference service unavailable"', async () => {
  await assert.rejects(unixClient('dead.local').chat.completions.create({ model: 'x', messages: [] }), (e) => {
    assert.ok(e instanceof OpenAI.InternalServerError, e.constructor.name);
    assert.equal(e.status, 503);
    assert.match(JSON.stringify(e.error ?? e.message), /inference service unavailable/);
    return true;
  });
});

test('error: a backend that does not answer in time is a 504', async () => {
  await fakeConfig(FAKE2, { fail: 'stall', fail_count: 1 });
  await assert.rejects(unixClient('faulty.local').chat.completions.create({ model: 'x', messages: [] }), (e) => {
    assert.ok(e instanceof OpenAI.APIError, e.constructor.name);
    assert.equal(e.status, 504);
    return true;
  });
  await fakeConfig(FAKE2, { fail: 'none' });
});

test('error: a request body over 10 MiB is refused (413)', async () => {
  // The broker answers 413 as soon as it reads the Content-Length and closes; a client still
  // uploading may see the closed connection before it reads the answer.
  const big = 'x'.repeat(11 * 1024 * 1024);
  await assert.rejects(unixClient().chat.completions.create({ model: 'x', messages: [{ role: 'user', content: big }] }),
    (e) => {
      assert.ok((e instanceof OpenAI.APIError && e.status === 413) || e instanceof OpenAI.APIConnectionError,
        `${e.constructor.name} ${e.status}: ${e.message}`);
      return true;
    });
  // the same request head on a raw connection, without the body: the answer is the 413
  const answer = await new Promise((resolve, reject) => {
    const sock = net.createConnection(SOCKET, () => {
      sock.write('POST /v1/chat/completions HTTP/1.1\r\nHost: inference.local\r\n' +
        `Content-Type: application/json\r\nContent-Length: ${11 * 1024 * 1024}\r\n\r\n`);
    });
    let data = '';
    sock.on('data', (d) => { data += d; if (data.includes('\r\n\r\n')) { sock.destroy(); resolve(data); } });
    sock.on('error', reject);
    sock.on('end', () => resolve(data));
  });
  assert.match(answer, /^HTTP\/1\.1 413 /);
});

test('a client that abandons a stream cancels the upstream request', async () => {
  const before = (await fakeStats(FAKE)).client_disconnects;
  const controller = new AbortController();
  // a long answer, paced by the fake server: abort after the first token
  await fakeConfig(FAKE, { tokens_per_second: 20, tokens: 100000 });
  const stream = await unixClient().chat.completions.create({
    model: 'x', messages: [], stream: true,
  }, { signal: controller.signal });
  try {
    for await (const chunk of stream) {
      if (chunk.choices[0]?.delta?.content) break;
    }
  } finally {
    controller.abort();
    await fakeConfig(FAKE, { tokens_per_second: 0, tokens: 12 });
  }
  await waitFor('the backend to see the disconnect', async () => (await fakeStats(FAKE)).client_disconnects > before);
  await waitFor('no stream left at the backend', async () => (await fakeStats(FAKE)).streams === 0);
});

test('1,000 concurrent streams over the unix socket all complete, all open at once upstream', async () => {
  // Paced answers (12 tokens at 1/s) keep every stream open for 12 s, so all 1,000 overlap however
  // slowly a loaded machine opens them; the count below is the server's high-water mark, not a timing.
  await fetch(`${FAKE}/fake/reset`, { method: 'POST' });
  await fakeConfig(FAKE, { tokens_per_second: 1 });
  const c = unixClient();
  const one = async () => {
    let text = '';
    for await (const ch of await c.chat.completions.create({ model: 'x', messages: [], stream: true })) {
      text += ch.choices[0]?.delta?.content ?? '';
    }
    return text;
  };
  try {
    const texts = await Promise.all(Array.from({ length: 1000 }, one));
    assert.equal(texts.length, 1000);
    assert.ok(texts.every((t) => t === expectedText(12)));
  } finally {
    await fakeConfig(FAKE, { tokens_per_second: 0 });
  }
  assert.equal((await fakeStats(FAKE)).max_streams, 1000, 'the broker held 1,000 upstream streams at once');
});

test('100 concurrent streams over TCP all complete', async () => {
  const c = tcpClient();
  const one = async () => {
    let text = '';
    for await (const ch of await c.chat.completions.create({ model: 'x', messages: [], stream: true })) {
      text += ch.choices[0]?.delta?.content ?? '';
    }
    return text;
  };
  const texts = await Promise.all(Array.from({ length: 100 }, one));
  assert.ok(texts.every((t) => t === expectedText(12)));
});
