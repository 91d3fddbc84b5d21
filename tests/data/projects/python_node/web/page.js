document.getElementById("go").addEventListener("click", () => {
  render(;
});
