// The score weights as a form: a dry run lists the rankings that would change and the policies
// that rise and fall in them before anything is saved.
(function () {
  const data = JSON.parse(document.getElementById('page-data').textContent);
  const { csrf, words } = data;
  const impact = document.getElementById('impact');
  function weights() {
    const body = { dimensions: {} };
    document.querySelectorAll('#weights-form input.dimension').forEach((input) => {
      body.dimensions[input.dataset.code] = Number(input.value);
    });
    document.querySelectorAll('#weights-form input.term').forEach((input) => {
      body[input.dataset.key] = Number(input.value);
    });
    return body;
  }
  async function send(method, url) {
    const reply = await fetch(url, { method, credentials: 'same-origin',
      headers: { 'content-type': 'application/json', 'x-csrf-token': csrf }, body: JSON.stringify(weights()) });
    const result = await reply.json();
    if (!reply.ok) { impact.className = 'error'; impact.textContent = (result.field ? result.field + ': ' : '') + result.message; return null; }
    return result;
  }
  function list(id, moves) {
    const ul = document.createElement('ul');
    ul.id = id;
    if (!moves.length) { const li = document.createElement('li'); li.textContent = words.none; ul.append(li); }
    moves.slice(0, 10).forEach((m) => { const li = document.createElement('li'); li.textContent = `${m.title}（${m.profiles} ${words.profiles}）`; ul.append(li); });
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
    impact.append(summary, up, list('rising', result.rising), down, list('falling', result.falling));
  });
  document.getElementById('save-weights').addEventListener('click', async () => {
    const result = await send('PUT', '/api/v1/weights');
    if (result) { impact.className = 'notice'; impact.textContent = words.saved; }
  });
})();
