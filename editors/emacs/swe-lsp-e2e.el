;;; swe-lsp-e2e.el --- eglot (Debian's elpa-eglot) against the real swe-lsp server  -*- lexical-binding: t; -*-

;; Run by tests/editors/test_eglot.py as
;;   emacs --batch -q -l editors/emacs/swe-lsp-e2e.el
;; with SWE_EGLOT_WS (a git workspace with calc.py and its TODO) and SWE_EGLOT_SERVER (the server
;; command line, e.g. "swe-lsp serve --engine stand_in_engine:resolve"). eglot is a plain client:
;; it cannot ask for an issue's text and says nothing about workspace trust. Checked:
;; - no bare "Resolve issue..." action; on the word TODO (the range eglot sends for the word at
;;   point) the TODO's action, preferred;
;; - a job started with the server's command runs to done;
;; - the user declining the server's edit is answered cleanly (no error left in the server) and
;;   recorded; accepting it applies it to the buffer;
;; - after `eglot-shutdown`, the server and its engine worker are gone.
;; Prints "ok ..." per check, "FAIL ..." and exits 1 on the first failure.

;;; Code:

(require 'eglot)
(require 'python)

(defvar swe-e2e--ws (file-name-as-directory (getenv "SWE_EGLOT_WS")))
(defvar swe-e2e--server (split-string-and-unquote (getenv "SWE_EGLOT_SERVER")))
(defvar swe-e2e--answer nil "What the stubbed `y-or-n-p' answers for server-initiated edits.")

(defun swe-e2e--fail (fmt &rest args)
  (princ (format "FAIL %s\n" (apply #'format fmt args)))
  (kill-emacs 1))

(defun swe-e2e--ok (what) (princ (format "ok   %s\n" what)))

(defun swe-e2e--check (cond what &rest detail)
  (if cond (swe-e2e--ok what) (swe-e2e--fail "%s %S" what detail)))

(defun swe-e2e--wait (what seconds probe)
  "Call PROBE until it returns non-nil (its value), at most SECONDS, processing input."
  (let ((end (+ (float-time) seconds)) value)
    (while (and (not (setq value (funcall probe))) (< (float-time) end))
      (accept-process-output nil 0.1))
    (or value (swe-e2e--fail "timed out waiting for %s" what))))

(defun swe-e2e--gone (pid)
  "Whether PID has exited (gone, or a zombie nobody reaped)."
  (let ((stat (format "/proc/%d/stat" pid)))
    (or (not (file-exists-p stat))
        (with-temp-buffer
          (ignore-errors (insert-file-contents stat))
          (string-match-p ") Z " (buffer-string))))))

(defun swe-e2e--range (line from to)
  (list :start (list :line line :character from) :end (list :line line :character to)))

(defun swe-e2e--actions (server range)
  (append (jsonrpc-request server :textDocument/codeAction
                           (list :textDocument (eglot--TextDocumentIdentifier)
                                 :range range :context (list :diagnostics [])))
          nil))

(defun swe-e2e--command (server command &rest args)
  (jsonrpc-request server :workspace/executeCommand
                   (list :command command :arguments (vconcat args))))

(defun swe-e2e--job (server job-id)
  (seq-find (lambda (j) (equal (plist-get j :jobId) job-id))
            (plist-get (jsonrpc-request server :swe-lsp/jobs (list :all t)) :jobs)))

(advice-add 'y-or-n-p :override (lambda (&rest _) swe-e2e--answer))
(setq eglot-confirm-server-initiated-edits 'confirm)

(add-to-list 'eglot-server-programs (cons 'python-mode swe-e2e--server))
(find-file (expand-file-name "calc.py" swe-e2e--ws))
(python-mode)
(let ((eglot-sync-connect 60)) (call-interactively #'eglot))
(defvar swe-e2e--conn (swe-e2e--wait "eglot to connect" 60 (lambda () (eglot-current-server))))
(swe-e2e--ok (format "eglot %s connected to %S" (or (bound-and-true-p eglot-version) "1.x")
                     (plist-get (eglot--server-info swe-e2e--conn) :name)))

;; Code actions as a plain client sees them.
(swe-e2e--check (null (swe-e2e--actions swe-e2e--conn (swe-e2e--range 0 0 0)))
                "no action without an issue on a plain line (no bare \"Resolve issue...\")")
(let* ((todo-line (with-current-buffer (find-buffer-visiting (expand-file-name "calc.py" swe-e2e--ws))
                    (save-excursion (goto-char (point-min)) (search-forward "TODO") (1- (line-number-at-pos)))))
       (col (with-current-buffer (find-buffer-visiting (expand-file-name "calc.py" swe-e2e--ws))
              (save-excursion (goto-char (point-min)) (search-forward "TODO")
                              (- (point) 4 (line-beginning-position)))))
       (actions (swe-e2e--actions swe-e2e--conn (swe-e2e--range todo-line col (+ col 4)))))
  (swe-e2e--check (and (= (length actions) 1)
                       (string-prefix-p "Resolve issue: TODO" (plist-get (car actions) :title))
                       (eq (plist-get (car actions) :isPreferred) t))
                  "the word TODO as the range: the TODO's action, preferred" actions))

;; A job, then the user declining and accepting its edit.
(defvar swe-e2e--job-id
  (plist-get (swe-e2e--command swe-e2e--conn "swe-lsp.resolveIssue"
                               (list :issue "add subtracts [edit calc.py a_-_b a_+_b]"))
             :jobId))
(swe-e2e--wait "the job to finish" 120
               (lambda () (member (plist-get (swe-e2e--job swe-e2e--conn swe-e2e--job-id) :state)
                                  '("done" "failed" "cancelled"))))
(swe-e2e--check (equal (plist-get (swe-e2e--job swe-e2e--conn swe-e2e--job-id) :state) "done")
                "the job ran to done")
(setq swe-e2e--answer nil)
(let ((result (swe-e2e--command swe-e2e--conn "swe-lsp.applyCandidate"
                                (list :jobId swe-e2e--job-id :rank 0))))
  (swe-e2e--check (and (eq (plist-get result :applied) :json-false)
                       (string-match-p "cancel" (or (plist-get result :failureReason) "")))
                  "declining the edit is answered: not applied, with eglot's reason" result))
(with-current-buffer (find-buffer-visiting (expand-file-name "calc.py" swe-e2e--ws))
  (swe-e2e--check (string-match-p "a - b" (buffer-string)) "the declined edit changed nothing"))
(setq swe-e2e--answer t)
(let ((result (swe-e2e--command swe-e2e--conn "swe-lsp.applyCandidate"
                                (list :jobId swe-e2e--job-id :rank 0))))
  (swe-e2e--check (eq (plist-get result :applied) t) "accepting the edit applies it" result))
(with-current-buffer (find-buffer-visiting (expand-file-name "calc.py" swe-e2e--ws))
  (swe-e2e--check (string-match-p "a \\+ b" (buffer-string)) "the buffer holds the fix"))

;; Shutdown: the server and its engine worker end.
(defvar swe-e2e--pids
  (let ((info (plist-get (swe-e2e--command swe-e2e--conn "swe-lsp.debugInfo") :server)))
    (list (plist-get info :pid) (plist-get info :workerPid))))
(eglot-shutdown swe-e2e--conn)
(dolist (pid swe-e2e--pids)
  (when (integerp pid)
    (swe-e2e--wait (format "process %s to end" pid) 30
                   (lambda () (swe-e2e--gone pid)))))
(swe-e2e--ok (format "the server and its worker ended after eglot-shutdown %S" swe-e2e--pids))
(princ "PASSED\n")
(kill-emacs 0)
;;; swe-lsp-e2e.el ends here
