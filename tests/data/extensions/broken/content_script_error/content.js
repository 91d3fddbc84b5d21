// Answers the popup's request for the page's title and visible text.
const MAX_TEXT = 8000;
const limits = undefined;
console.log(limits.text);

chrome.runtime.onMessage.addListener((message, sender, sendResponse) => {
  if (message && message.type === 'GET_PAGE') {
    const text = (document.body ? document.body.innerText : '').slice(0, MAX_TEXT);
    sendResponse({ title: document.title, url: location.href, text });
  }
});
