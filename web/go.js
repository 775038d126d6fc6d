// The /go page: "Copy link" for inert links, and "Go back" to where the person came from.
const copy = document.getElementById('go-copy');
if (copy) {
  copy.addEventListener('click', () => {
    const done = () => { copy.textContent = copy.dataset.copied; };
    if (navigator.clipboard && navigator.clipboard.writeText) navigator.clipboard.writeText(copy.dataset.url).then(done, () => {});
  });
}
const back = document.getElementById('go-back');
if (back && window.history.length > 1) {
  back.addEventListener('click', (e) => { e.preventDefault(); window.history.back(); });
}
