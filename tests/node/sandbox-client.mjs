// SPDX-License-Identifier: Apache-2.0
// The official `openai` npm client inside a sandbox, as its agent: https://inference.local/v1 through
// the sandbox's proxy, with no CA option (NODE_EXTRA_CA_CERTS names the sandbox's CA) and no
// credential of its own (the broker adds the provider's). Run by
// tests/integration/cases/26-sandbox-inference.sh, which checks the lines it prints; not a
// *.test.mjs, so tests/node/run and case 46 leave it alone.

import OpenAI from 'openai';
import { EnvHttpProxyAgent, fetch as undiciFetch } from 'undici';

// Node 20's fetch ignores NODE_USE_ENV_PROXY (22.21 and 24 honour it): undici's agent reads the same
// HTTPS_PROXY and NO_PROXY the sandbox sets.
const dispatcher = new EnvHttpProxyAgent();
const client = new OpenAI({
  baseURL: 'https://inference.local/v1',
  apiKey: 'the-sandbox-holds-no-key',
  maxRetries: 0,
  timeout: 20000,
  fetch: (url, init) => undiciFetch(url, { ...init, dispatcher }),
});
const messages = [{ role: 'user', content: 'hi' }];

const chat = await client.chat.completions.create({ model: 'any', messages });
console.log(`chat ${chat.model} ${chat.choices[0].message.content}`);

let chunks = 0;
let text = '';
for await (const chunk of await client.chat.completions.create({ model: 'any', messages, stream: true })) {
  chunks++;
  text += chunk.choices[0]?.delta?.content ?? '';
}
console.log(`chat-stream ${chunks} ${text}`);

const resp = await client.responses.create({ model: 'any', input: 'hi' });
console.log(`responses ${resp.output_text}`);

let events = 0;
let done = false;
for await (const ev of await client.responses.create({ model: 'any', input: 'hi', stream: true })) {
  events++;
  if (ev.type === 'response.completed') done = true;
}
console.log(`responses-stream ${events} ${done}`);
