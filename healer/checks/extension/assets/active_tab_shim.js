// While the popup runs as a tab, chrome.tabs.query({active: true}) answers with the test
// page's tab (the most recently used other tab of the window), as it would for a real popup.
(() => {
  if (!globalThis.chrome || !chrome.tabs || !chrome.tabs.query || !chrome.tabs.getCurrent) return;
  const query = chrome.tabs.query.bind(chrome.tabs);
  const getCurrent = chrome.tabs.getCurrent.bind(chrome.tabs);
  async function tabsFor(info) {
    const tabs = await query(info || {});
    if (!info || !info.active) return tabs;
    const me = await getCurrent();
    if (!me || !tabs.some((t) => t.id === me.id)) return tabs;
    const others = (await query({ windowId: me.windowId })).filter((t) => t.id !== me.id);
    others.sort((a, b) => (b.lastAccessed || 0) - (a.lastAccessed || 0));
    return others.length ? [Object.assign({}, others[0], { active: true })] : tabs;
  }
  chrome.tabs.query = function (info, callback) {
    const result = tabsFor(info);
    if (typeof callback === "function") { result.then(callback); return undefined; }
    return result;
  };
})();
