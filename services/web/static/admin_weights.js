(function () {
  const data = JSON.parse(document.getElementById('page-data').textContent);
  const { csrf, words } = data;
  const impact = document.getElementById('impact');
  async function send(method, url) {
    let body;
    try { body = JSON.parse(document.getElementById('weights').value); }
    catch (e) { impact.className = 'error'; impact.textContent = words.bad_json + ': ' + e.message; return null; }
    const reply = await fetch(url, { method, credentials: 'same-origin',
      headers: { 'content-type': 'application/json', 'x-csrf-token': csrf }, body: JSON.stringify(body) });
    const result = await reply.json();
    if (!reply.ok) { impact.className = 'error'; impact.textContent = (result.field ? result.field + ': ' : '') + result.message; return null; }
    return result;
  }
  function list(moves) {
    const ul = document.createElement('ul');
    moves.slice(0, 10).forEach((m) => { const li = document.createElement('li'); li.textContent = m.title + ' (' + m.profiles + ')'; ul.append(li); });
    return ul;
  }
  document.getElementById('dry-run').addEventListener('click', async () => {
    const result = await send('POST', '/api/v1/weights/dry-run');
    if (!result) return;
    impact.className = 'notice';
    impact.replaceChildren();
    const summary = document.createElement('p');
    summary.id = 'impact-summary';
    summary.textContent = words.changed + ': ' + result.top_changed + ' / ' + result.profiles_checked
      + ' · ' + words.mean_change + ': ' + result.mean_score_change.toFixed(1);
    const up = document.createElement('h3'); up.textContent = words.rising;
    const down = document.createElement('h3'); down.textContent = words.falling;
    impact.append(summary, up, list(result.rising), down, list(result.falling));
  });
  document.getElementById('save-weights').addEventListener('click', async () => {
    const result = await send('PUT', '/api/v1/weights');
    if (result) { impact.className = 'notice'; impact.textContent = words.saved; }
  });
})();
