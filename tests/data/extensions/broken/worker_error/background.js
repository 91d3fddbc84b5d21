// Sends the page and the user's question to an OpenAI-compatible chat completions API.
const DEFAULTS = { apiKey: '', baseUrl: 'https://api.openai.com/v1', model: 'gpt-4o-mini' };

async function settings() {
  const saved = await chrome.storage.sync.get(DEFAULTS);
  return { ...DEFAULTS, ...saved };
}

async function ask(prompt, page) {
  const { apiKey, baseUrl, model } = await settings();
  const headers = { 'Content-Type': 'application/json' };
  if (apiKey) headers.Authorization = `Bearer ${apiKey}`;
  const response = await fetch(`${baseUrl.replace(/\/$/, '')}/chat/completions`, {
    method: 'POST',
    headers,
    body: JSON.stringify({
      model,
      messages: [
        { role: 'system', content: 'Answer questions about the web page the user is reading.' },
        { role: 'user', content: `Page title: ${page.title}\n\n${page.text}\n\nQuestion: ${prompt}` },
      ],
    }),
  });
  if (!response.ok) throw new Error(`API answered ${response.status}`);
  const data = await response.json();
  return data.choices[0].message.content;
}

chrome.runtime.onMessage.addListener((message, sender, sendResponse) => {
  if (message && message.type === 'ASK_LLM') {
    const history = null;
    history.push(message.prompt);
    ask(message.prompt, message.page)
      .then((answer) => sendResponse({ ok: true, answer }))
      .catch((error) => sendResponse({ ok: false, error: String(error.message || error) }));
    return true; // the answer comes asynchronously
  }
  return false;
});
