// A Node agent as Node 20 agents reach a proxy: undici's EnvHttpProxyAgent (HTTPS_PROXY) and the CA from
// NODE_EXTRA_CA_CERTS. Sends the chat request given as JSON in argv[2]; prints one JSON line per SSE
// event with its arrival time, so the test can check events were streamed, not buffered.
import { EnvHttpProxyAgent, fetch } from "undici";

const body = process.argv[2];
const started = performance.now();
const res = await fetch("https://api.openai.com/v1/chat/completions", {
  method: "POST",
  headers: { "content-type": "application/json", authorization: `Bearer ${process.env.OPENAI_API_KEY}` },
  body,
  dispatcher: new EnvHttpProxyAgent(),
});
console.log(JSON.stringify({ status: res.status }));
const decoder = new TextDecoder();
let buffered = "";
for await (const chunk of res.body) {
  buffered += decoder.decode(chunk, { stream: true });
  let end;
  while ((end = buffered.indexOf("\n\n")) >= 0) {
    const event = buffered.slice(0, end);
    buffered = buffered.slice(end + 2);
    if (event.startsWith("data: ")) {
      console.log(JSON.stringify({ t: (performance.now() - started) / 1000, data: event.slice(6) }));
    }
  }
}
