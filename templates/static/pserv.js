// pserv's web UI: progressive enhancement only. Every page works without
// this script; with it, choosing a power type reloads the node form for it,
// a checkbox selects every node on the page, and the destructive buttons
// ask for confirmation first.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  // A select marked data-autosubmit submits its (GET) form when changed,
  // and the form's own button is not needed.
  for (const select of document.querySelectorAll("select[data-autosubmit]")) {
    const form = select.form;
    for (const button of form.querySelectorAll("[data-autosubmit-button]")) {
      button.hidden = true;
    }
    select.addEventListener("change", () => form.requestSubmit());
  }

  // The header checkbox of the nodes table selects every row's checkbox.
  for (const all of document.querySelectorAll("input[data-select-all]")) {
    const table = all.closest("table");
    const boxes = () => table.querySelectorAll("tbody input[type=checkbox][name=node]");
    all.hidden = false;
    all.addEventListener("change", () => {
      for (const box of boxes()) box.checked = all.checked;
    });
    table.addEventListener("change", (event) => {
      if (event.target === all) return;
      const every = [...boxes()];
      all.checked = every.length > 0 && every.every((box) => box.checked);
      all.indeterminate = !all.checked && every.some((box) => box.checked);
    });
  }

  // A button with data-confirm asks before its form is sent.
  for (const form of document.querySelectorAll("form")) {
    form.addEventListener("submit", (event) => {
      const button = event.submitter;
      if (button && button.dataset.confirm && !window.confirm(button.dataset.confirm)) {
        event.preventDefault();
      }
    });
  }
});
