// Stores the API key, base URL and model used by the background worker.
const FIELDS = { apiKey: 'api-key', baseUrl: 'base-url', model: 'model' };

async function restore() {
  const saved = await chrome.storage.sync.get(Object.keys(FIELDS));
  for (const [key, id] of Object.entries(FIELDS)) {
    document.getElementById(id).value = saved[key] || '';
  }
}

async function save() {
  const values = {};
  for (const [key, id] of Object.entries(FIELDS)) {
    values[key] = document.getElementById(id).value.trim();
  }
  await chrome.storage.sync.set(values);
  document.getElementById('status').textContent = 'Saved.';
}

document.getElementById('save').addEventListener('click', save);
restore();
