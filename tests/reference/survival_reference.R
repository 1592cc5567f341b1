# Reference values for cohort/survival.py and cohort/competing.py, computed with R.
#
#   cd tests/reference && Rscript survival_reference.R
#
# Reads data/veterans.csv and data/gbsg2.csv; writes data/competing.csv (deterministic:
# set.seed(20240611), times rounded to 0.1 so that ties of all kinds occur) and
# survival_reference.json (numbers with 15 significant digits; NA/NaN/Inf -> null).
# Needs: survival, cmprsk, jsonlite.
suppressPackageStartupMessages({
  library(survival)
  library(cmprsk)
  library(jsonlite)
})

veterans <- read.csv("data/veterans.csv", stringsAsFactors = FALSE)
gbsg2 <- read.csv("data/gbsg2.csv", stringsAsFactors = FALSE)

# ---- deterministic competing-risks data ---------------------------------------------------
set.seed(20240611)
n <- 300
grp <- sample(c("A", "B", "C"), n, replace = TRUE)
rate1 <- c(A = 0.05, B = 0.08, C = 0.12)[grp]
t1 <- rexp(n, rate1)
t2 <- rexp(n, 0.04)
cens <- runif(n, 5, 40)
tt <- pmin(t1, t2, cens)
status <- ifelse(tt == t1, 1L, ifelse(tt == t2, 2L, 0L))
competing <- data.frame(time = pmax(round(tt, 1), 0.1), status = status, group = grp)
write.csv(competing, "data/competing.csv", row.names = FALSE, quote = FALSE)
competing <- read.csv("data/competing.csv", stringsAsFactors = FALSE)

# ---- small edge-case data sets (also stored in the JSON) ----------------------------------
edge <- list(
  flat_half = data.frame(time = c(1, 2, 3, 4), status = c(1, 1, 1, 1)),
  flat_half_cens = data.frame(time = c(1, 2, 2.5, 3, 4, 5, 6, 7),
                              status = c(1, 1, 0, 0, 1, 1, 0, 1)),
  all_censored = data.frame(time = c(1, 2, 3, 5), status = c(0, 0, 0, 0)),
  one_patient = data.frame(time = c(7), status = c(1)),
  ties = data.frame(time = c(1, 2, 2, 2, 3, 3, 4, 5, 5, 6),
                    status = c(1, 1, 0, 1, 0, 1, 1, 0, 1, 0)),
  last_all_die = data.frame(time = c(1, 2, 2, 3, 4, 4, 5), status = c(1, 1, 0, 1, 0, 1, 1))
)

datasets <- c(list(veterans = veterans, gbsg2 = gbsg2), edge)
specs <- list(
  list(data = "veterans", by = NULL, tau = 365, times = c(0, 1, 30, 90, 180, 365, 500, 999)),
  list(data = "veterans", by = "Celltype", tau = 365, times = c(0, 30, 90, 180, 365, 500)),
  list(data = "veterans", by = "Treatment", tau = 365, times = c(0, 30, 90, 180, 365, 500)),
  list(data = "gbsg2", by = NULL, tau = 1825, times = c(0, 365, 730, 1095, 1825, 2500)),
  list(data = "gbsg2", by = "horTh", tau = 1825, times = c(0, 365, 730, 1095, 1825, 2500)),
  list(data = "gbsg2", by = "tgrade", tau = 1825, times = c(0, 365, 730, 1095, 1825, 2500))
)
for (nm in names(edge)) specs[[length(specs) + 1]] <- list(
  data = nm, by = NULL, tau = if (nm == "one_patient") 8 else 4.5,
  times = c(0, 1, 2, 2.5, 4, 5))

strip <- function(s, by) if (is.null(by)) rep("All", length(s)) else sub("^[^=]*=", "", s)
fit_of <- function(d, by, ct) {
  f <- if (is.null(by)) Surv(time, status) ~ 1 else as.formula(paste("Surv(time, status) ~", by))
  fit <- survfit(f, data = d, conf.type = ct)
  fit$call$formula <- f
  fit
}
group_col <- function(s, n, by) if (is.null(s)) rep("All", n) else strip(as.character(s), by)

km <- list(); landmarks <- list(); medians <- list(); rmeans <- list()
for (sp in specs) {
  d <- datasets[[sp$data]]
  for (ct in c("log-log", "log", "plain")) {
    fit <- fit_of(d, sp$by, ct)
    s <- summary(fit, censored = TRUE)
    km[[length(km) + 1]] <- list(
      data = sp$data, by = sp$by, conf_type = ct,
      group = group_col(s$strata, length(s$time), sp$by), time = s$time,
      n_risk = s$n.risk, n_event = s$n.event, n_censor = s$n.censor, survival = s$surv,
      std_err = s$std.err, lower = s$lower, upper = s$upper)
    lm <- summary(fit, times = sp$times)
    landmarks[[length(landmarks) + 1]] <- list(
      data = sp$data, by = sp$by, conf_type = ct, times = sp$times,
      group = group_col(lm$strata, length(lm$time), sp$by), time = lm$time,
      n_risk = lm$n.risk, survival = lm$surv, std_err = lm$std.err,
      lower = lm$lower, upper = lm$upper)
    tab <- summary(fit, rmean = sp$tau)$table
    if (is.null(dim(tab))) tab <- t(as.matrix(tab))
    grp <- if (is.null(sp$by)) "All" else strip(rownames(tab), sp$by)
    medians[[length(medians) + 1]] <- list(
      data = sp$data, by = sp$by, conf_type = ct, group = grp, n = tab[, "records"],
      events = tab[, "events"], median = tab[, "median"], lower = tab[, "0.95LCL"],
      upper = tab[, "0.95UCL"])
    if (ct == "log-log") rmeans[[length(rmeans) + 1]] <- list(
      data = sp$data, by = sp$by, tau = sp$tau, group = grp, rmst = tab[, "rmean"],
      se = tab[, "se(rmean)"])
  }
}

# ---- log-rank, pairwise (Holm), trend ------------------------------------------------------
logranks <- list()
for (sp in specs) {
  if (is.null(sp$by)) next
  d <- datasets[[sp$data]]
  g <- factor(d[[sp$by]])
  lev <- levels(g)
  sd <- survdiff(Surv(time, status) ~ g, data = d)
  # pairwise, as survminer::pairwise_survdiff(p.adjust.method = "holm")
  pa <- c(); pb <- c(); pc <- c(); pp <- c()
  for (i in seq_along(lev)) for (j in seq_along(lev)) if (i < j) {
    sub <- d[g %in% lev[c(i, j)], ]
    sub$g <- factor(sub[[sp$by]])
    s2 <- survdiff(Surv(time, status) ~ g, data = sub)
    pa <- c(pa, lev[i]); pb <- c(pb, lev[j]); pc <- c(pc, s2$chisq)
    pp <- c(pp, pchisq(s2$chisq, 1, lower.tail = FALSE))
  }
  # trend, scores 1..k: (w'(O-E))^2 / (w' V w) with survdiff's O, E and (hypergeometric) V,
  # the classical log-rank test for trend (Collett, Modelling Survival Data, 3rd ed., 2.7).
  w <- seq_along(lev)
  trend <- sum(w * (sd$obs - sd$exp))^2 / drop(t(w) %*% sd$var %*% w)
  logranks[[length(logranks) + 1]] <- list(
    data = sp$data, by = sp$by, group = lev, n = as.vector(sd$n), observed = sd$obs,
    expected = sd$exp, var_diag = diag(sd$var), chisq = sd$chisq,
    df = length(lev) - 1, p = pchisq(sd$chisq, length(lev) - 1, lower.tail = FALSE),
    trend_chisq = trend, trend_p = pchisq(trend, 1, lower.tail = FALSE),
    pairwise = list(group_a = pa, group_b = pb, chisq = pc, p = pp,
                    p_holm = p.adjust(pp, "holm")))
}

# ---- cumulative incidence (cmprsk::cuminc) -------------------------------------------------
cif <- list()
z <- qnorm(0.975)
add_cif <- function(ci, by, cause) {
  for (nm in names(ci)) {
    if (nm == "Tests") next
    parts <- strsplit(nm, " ")[[1]]
    if (parts[length(parts)] != as.character(cause)) next
    e <- ci[[nm]]
    est <- e$est; se <- sqrt(e$var)
    # log(-log) transformed band: F^exp(-+z se / (F log F)) (as tidycmprsk, Stata stcompet)
    lo <- ifelse(est > 0 & est < 1, est^exp(-z * se / (est * log(est))), NA)
    hi <- ifelse(est > 0 & est < 1, est^exp(z * se / (est * log(est))), NA)
    cif[[length(cif) + 1]] <<- list(
      by = by, cause = cause, group = if (is.null(by)) "All" else parts[1],
      time = e$time, est = est, var = e$var, lower = lo, upper = hi)
  }
}
ci_all <- cuminc(competing$time, competing$status, cencode = 0)
ci_grp <- cuminc(competing$time, competing$status, competing$group, cencode = 0)
for (cause in 1:2) {
  add_cif(ci_all, NULL, cause)
  add_cif(ci_grp, "group", cause)
}
tests <- ci_grp$Tests
gray <- list(cause = as.integer(rownames(tests)), stat = tests[, "stat"], p = tests[, "pv"],
             df = tests[, "df"])
# GBSG2 by tgrade with status as cause 1 and no competing event: a second Gray test
ci_g <- cuminc(gbsg2$time, gbsg2$status, gbsg2$tgrade, cencode = 0)
gray_gbsg2 <- list(stat = ci_g$Tests[, "stat"], p = ci_g$Tests[, "pv"], df = ci_g$Tests[, "df"])

out <- list(
  meta = list(R = R.version.string, survival = as.character(packageVersion("survival")),
              cmprsk = as.character(packageVersion("cmprsk"))),
  edge = edge, km = km, landmarks = landmarks, medians = medians, rmeans = rmeans,
  logranks = logranks, cif = cif, gray = gray, gray_gbsg2 = gray_gbsg2)
writeLines(toJSON(out, digits = NA, na = "null", auto_unbox = TRUE, null = "null", pretty = FALSE),
           "survival_reference.json")
cat("wrote survival_reference.json\n")
