// Shows the current page and sends the user's question about it to the background worker.
let page = { title: '', url: '', text: '' };
const layout = null;
const width = layout.width; // TypeError: layout is null

async function loadPage() {
  const [tab] = await chrome.tabs.query({ active: true, currentWindow: true });
  try {
    page = await chrome.tabs.sendMessage(tab.id, { type: 'GET_PAGE' });
  } catch (error) {
    page = { title: tab.title || '(this page cannot be read)', url: tab.url || '', text: '' };
  }
  document.getElementById('page-title').textContent = page.title;
  document.getElementById('page-excerpt').textContent = page.text.slice(0, 200);
}

async function askQuestion() {
  const prompt = document.getElementById('prompt').value.trim();
  const answer = document.getElementById('answer');
  if (!prompt) {
    answer.textContent = 'Type a question first.';
    return;
  }
  answer.textContent = 'Thinking…';
  const reply = await chrome.runtime.sendMessage({ type: 'ASK_LLM', prompt, page });
  answer.textContent = reply.ok ? reply.answer : `Error: ${reply.error}`;
}

document.getElementById('ask').addEventListener('click', askQuestion);
loadPage();
