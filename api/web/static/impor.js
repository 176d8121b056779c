// Progress for large files: send the form with XMLHttpRequest to show the upload's progress,
// then show the server's answer. Without JavaScript the form posts as usual.
(function () {
  var form = document.getElementById("form-impor");
  if (!form || !window.XMLHttpRequest || !window.FormData) return;
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var box = document.getElementById("kemajuan"), bar = document.getElementById("bilah"),
        pct = document.getElementById("persen");
    box.hidden = false;
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.upload.onprogress = function (e) {
      if (e.lengthComputable) {
        var p = Math.round(100 * e.loaded / e.total);
        bar.value = p; pct.textContent = p + "% terunggah";
      }
    };
    xhr.upload.onload = function () {
      bar.removeAttribute("value"); pct.textContent = "Memeriksa baris…";
    };
    xhr.onload = function () {
      document.open(); document.write(xhr.responseText); document.close();
    };
    xhr.onerror = function () { pct.textContent = "Gagal mengirim berkas."; };
    xhr.send(new FormData(form));
  });
})();
