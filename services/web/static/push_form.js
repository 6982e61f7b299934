// The uploaded list is read in the browser into the box above: the codes stay visible and
// editable before the preview, and the server checks each one.
document.getElementById('credit_code_file').addEventListener('change', async (event) => {
  const file = event.target.files[0];
  if (!file) return;
  const codes = (await file.text()).match(/[0-9A-Za-z]{18}/g) || [];
  const box = document.getElementById('credit_codes');
  box.value = [box.value.trim(), ...codes].filter(Boolean).join('\n');
});
