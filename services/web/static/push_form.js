// The uploaded list is read in the browser into the box below it: every entry stays visible and
// editable before the preview, malformed ones too, and the server accounts for each one. A first
// line without a digit is a column header.
document.getElementById('credit_code_file').addEventListener('change', async (event) => {
  const file = event.target.files[0];
  if (!file) return;
  const lines = (await file.text()).split(/\r?\n/);
  if (lines.length && !/\d/.test(lines[0])) lines.shift();
  const codes = lines.join('\n').split(/[\s,，;；]+/).filter(Boolean);
  const box = document.getElementById('credit_codes');
  box.value = [box.value.trim(), ...codes].filter(Boolean).join('\n');
});

// The picker's filters narrow the list as they change, keeping what is already ticked; without
// script the filter form asks the server.
const picker = document.getElementById('picker-filter');
function narrow() {
  const words = document.getElementById('policy_q').value.trim().toLowerCase();
  const level = document.getElementById('policy_level').value;
  const topic = document.getElementById('policy_topic').value;
  let shown = 0;
  for (const label of document.querySelectorAll('#policy-picker label.pick')) {
    const fits = (!words || label.dataset.text.toLowerCase().includes(words))
      && (!level || label.dataset.level === level)
      && (!topic || label.dataset.topics.includes(` ${topic} `));
    const show = fits || label.querySelector('input').checked;
    label.style.display = show ? '' : 'none';
    if (show) shown += 1;
  }
  document.getElementById('picker-empty').style.display = shown > 0 ? 'none' : '';
}
picker.addEventListener('input', narrow);
picker.addEventListener('submit', (event) => { event.preventDefault(); narrow(); });
