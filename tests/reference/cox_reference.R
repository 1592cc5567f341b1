# Reference Cox models for tests/test_cox_vs_r.py.
# Run from the repository root:  Rscript tests/reference/cox_reference.R
# Writes tests/reference/cox_reference.json (full precision, 15 significant digits).
# survival >= 3.0: coxph (Efron ties), cox.zph(fit, transform = "km") per term + GLOBAL.
suppressPackageStartupMessages({
  library(survival)
  library(jsonlite)
})

here <- "tests/reference"
vet <- read.csv(file.path(here, "data", "veterans.csv"), stringsAsFactors = FALSE)
gbsg <- read.csv(file.path(here, "data", "gbsg2.csv"), stringsAsFactors = FALSE)
# rows with missing values (1-based; the Python test blanks the same rows, 0-based)
vet_na <- vet
vet_na$Karnofsky_score[c(3, 10, 20)] <- NA
vet_na$Celltype[c(5, 10, 40)] <- NA
vet_na$Celltype <- relevel(factor(vet_na$Celltype), ref = "squamous")
gbsg_rl <- gbsg
gbsg_rl$tgrade <- relevel(factor(gbsg_rl$tgrade), ref = "II")

summarise_fit <- function(fit) {
  s <- summary(fit, conf.int = 0.95)
  cf <- s$coefficients
  ci <- s$conf.int
  zph <- cox.zph(fit, transform = "km")
  conc <- fit$concordance
  list(
    terms = data.frame(
      term = rownames(cf), coef = unname(cf[, "coef"]), hr = unname(cf[, "exp(coef)"]),
      se = unname(cf[, "se(coef)"]), z = unname(cf[, "z"]), p = unname(cf[, "Pr(>|z|)"]),
      lower = unname(ci[, "lower .95"]), upper = unname(ci[, "upper .95"])
    ),
    n = fit$n, events = fit$nevent,
    loglik = fit$loglik,
    lr_test = list(chisq = unname(s$logtest["test"]), df = unname(s$logtest["df"]),
                   p = unname(s$logtest["pvalue"])),
    # summary() rounds the Wald statistic to 2 decimals: take it from the fit
    wald_test = list(chisq = unname(fit$wald.test), df = unname(s$waldtest["df"]),
                     p = unname(s$waldtest["pvalue"])),
    score_test = list(chisq = unname(s$sctest["test"]), df = unname(s$sctest["df"]),
                      p = unname(s$sctest["pvalue"])),
    concordance = unname(conc["concordance"]), concordance_se = unname(conc["std"]),
    concordance_counts = as.list(conc[c("concordant", "discordant", "tied.x", "tied.y",
                                        "tied.xy")]),
    ph_test = data.frame(term = rownames(zph$table), chisq = unname(zph$table[, "chisq"]),
                         df = unname(zph$table[, "df"]), p = unname(zph$table[, "p"]))
  )
}

models <- list(
  veterans = list(
    data = "veterans", covariates = c("Treatment", "Celltype", "Karnofsky_score",
                                      "Age_in_years", "Prior_therapy"),
    strata = NULL, reference = NULL,
    fit = coxph(Surv(time, status) ~ Treatment + Celltype + Karnofsky_score + Age_in_years +
                  Prior_therapy, data = vet, ties = "efron")
  ),
  veterans_strat = list(
    data = "veterans", covariates = c("Treatment", "Karnofsky_score", "Age_in_years",
                                      "Prior_therapy"),
    strata = "Celltype", reference = NULL,
    fit = coxph(Surv(time, status) ~ Treatment + Karnofsky_score + Age_in_years +
                  Prior_therapy + strata(Celltype), data = vet, ties = "efron")
  ),
  gbsg2 = list(
    data = "gbsg2", covariates = c("horTh", "age", "menostat", "tsize", "tgrade", "pnodes",
                                   "progrec", "estrec"),
    strata = NULL, reference = NULL,
    fit = coxph(Surv(time, status) ~ horTh + age + menostat + tsize + tgrade + pnodes +
                  progrec + estrec, data = gbsg, ties = "efron")
  ),
  gbsg2_tgrade_II = list(
    data = "gbsg2", covariates = c("horTh", "age", "menostat", "tsize", "tgrade", "pnodes",
                                   "progrec", "estrec"),
    strata = NULL, reference = list(tgrade = "II"),
    fit = coxph(Surv(time, status) ~ horTh + age + menostat + tsize + tgrade + pnodes +
                  progrec + estrec, data = gbsg_rl, ties = "efron")
  ),
  veterans_celltype = list(
    data = "veterans", covariates = c("Celltype"), strata = NULL, reference = NULL,
    fit = coxph(Surv(time, status) ~ Celltype, data = vet, ties = "efron")
  ),
  veterans_missing = list(
    data = "veterans", covariates = c("Treatment", "Celltype", "Karnofsky_score"),
    strata = NULL, reference = list(Celltype = "squamous"),
    na_rows = list(Karnofsky_score = c(3, 10, 20), Celltype = c(5, 10, 40)),
    fit = coxph(Surv(time, status) ~ Treatment + Celltype + Karnofsky_score, data = vet_na, ties = "efron")
  ),
  gbsg2_pnodes = list(
    data = "gbsg2", covariates = c("pnodes"), strata = NULL, reference = NULL,
    fit = coxph(Surv(time, status) ~ pnodes, data = gbsg, ties = "efron")
  )
)

out <- lapply(models, function(m) {
  c(list(data = m$data, covariates = I(m$covariates), strata = m$strata,
         reference = m$reference, na_rows = m$na_rows), summarise_fit(m$fit))
})
out$meta <- list(survival = as.character(packageVersion("survival")),
                 r = R.version.string)

writeLines(toJSON(out, digits = I(15), auto_unbox = TRUE, null = "null", pretty = TRUE,
                  dataframe = "rows"),
           file.path(here, "cox_reference.json"))
