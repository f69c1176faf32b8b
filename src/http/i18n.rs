//! The pages' language: English, or French when the browser prefers it
//! (`Accept-Language`); anything else falls back to English.

/// A page language.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    En,
    Fr,
}

tokio::task_local! {
    /// This request's language, set by the headers middleware.
    pub static LANG: Lang;
}

impl Lang {
    /// The best supported language of an `Accept-Language` header (q-values honoured).
    pub fn negotiate(header: Option<&str>) -> Self {
        let mut best = (Self::En, 0.0_f32);
        for item in header.unwrap_or_default().split(',') {
            let mut parts = item.trim().split(';');
            let tag = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
            let q = parts
                .find_map(|p| {
                    p.trim()
                        .strip_prefix("q=")
                        .and_then(|q| q.parse::<f32>().ok())
                })
                .unwrap_or(1.0);
            let lang = match tag.split('-').next().unwrap_or_default() {
                "fr" => Self::Fr,
                "en" => Self::En,
                _ => continue,
            };
            // The first of equally preferred languages wins.
            if q > best.1 {
                best = (lang, q);
            }
        }
        best.0
    }

    pub fn current() -> Self {
        LANG.try_with(|l| *l).unwrap_or(Self::En)
    }

    pub fn code(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::Fr => "fr",
        }
    }

    pub fn texts(self) -> &'static Texts {
        match self {
            Self::En => &EN,
            Self::Fr => &FR,
        }
    }
}

/// The fixed words of the pages. Sentences with a value keep a `{}` for it.
pub struct Texts {
    pub lang: &'static str,
    pub brand: &'static str,
    pub choose_department: &'static str,
    pub picker_lead: &'static str,
    pub last_time: &'static str,
    pub email_heading: &'static str,
    pub email_label: &'static str,
    pub continue_button: &'static str,
    pub list_heading: &'static str,
    pub search_label: &'static str,
    pub search_button: &'static str,
    /// `{n}` and `{total}` are filled in (also by picker.js).
    pub count_template: &'static str,
    pub no_match: &'static str,
    pub show_all: &'static str,
    pub go_back_hint: &'static str,
    /// Before the request id on error pages, for people who contact support.
    pub reference_label: &'static str,
    pub try_again: &'static str,
    pub start_again: &'static str,
    pub confirm_title: &'static str,
    pub confirm_access: &'static str,
    pub confirm_warning: &'static str,
    pub confirm_button: &'static str,
    pub fallback_title: &'static str,
    pub fallback_lead: &'static str,
    pub fallback_button: &'static str,
    pub fallback_waiting: &'static str,
    pub fallback_no_app: &'static str,
    /// The part before `@` in the e-mail field's example.
    pub email_placeholder_name: &'static str,
}

impl Texts {
    /// `template` with `{}` replaced by `value` (escaped later by the template engine).
    pub fn fill(&self, template: &str, value: &str) -> String {
        template.replace("{}", value)
    }

    /// `count_template` filled in, in one pass (the picker shows it on every start).
    pub fn count(&self, n: usize, total: usize) -> String {
        use std::fmt::Write;
        let mut out = String::with_capacity(self.count_template.len() + 8);
        let mut rest = self.count_template;
        while let Some(at) = rest.find('{') {
            out.push_str(&rest[..at]);
            rest = &rest[at..];
            if let Some(after) = rest.strip_prefix("{n}") {
                let _ = write!(out, "{n}");
                rest = after;
            } else if let Some(after) = rest.strip_prefix("{total}") {
                let _ = write!(out, "{total}");
                rest = after;
            } else {
                out.push('{');
                rest = &rest[1..];
            }
        }
        out.push_str(rest);
        out
    }
}

static EN: Texts = Texts {
    lang: "en",
    brand: "University Matrix login",
    choose_department: "Choose your department",
    picker_lead: "You will sign in with the university login, then continue to your department's Matrix server.",
    last_time: "Last time you used",
    email_heading: "Sign in with your university e-mail",
    email_label: "E-mail address",
    continue_button: "Continue",
    list_heading: "Or pick from the list",
    search_label: "Search departments",
    search_button: "Search",
    count_template: "{n} of {total} departments",
    no_match: "No department matches “{}”.",
    show_all: "Show all departments",
    go_back_hint: "Use your browser’s Back button to choose another department.",
    reference_label: "If you contact IT support, give them this reference:",
    try_again: "Try again",
    start_again: "Start again",
    confirm_title: "Continue to {}?",
    confirm_access: "You are about to give {} access to your Matrix account.",
    confirm_warning: "If you do not recognise {}, or you did not just try to sign in to a Matrix app, do not continue: close this page.",
    confirm_button: "Continue to {}",
    fallback_title: "Sign in to Matrix",
    fallback_lead: "Sign in with your university account. You will choose your department, then come back here.",
    fallback_button: "Sign in with the university",
    fallback_waiting: "You are signed in at the university. Waiting for your app to take the login…",
    fallback_no_app: "No app took this login, so it was not used. Close this window and sign in again from your app.",
    email_placeholder_name: "name",
};

static FR: Texts = Texts {
    lang: "fr",
    brand: "Connexion Matrix de l’université",
    choose_department: "Choisissez votre département",
    picker_lead: "Vous vous connecterez avec le compte de l’université, puis continuerez vers le serveur Matrix de votre département.",
    last_time: "La dernière fois, vous avez choisi",
    email_heading: "Se connecter avec votre courriel de l’université",
    email_label: "Adresse courriel",
    continue_button: "Continuer",
    list_heading: "Ou choisissez dans la liste",
    search_label: "Rechercher un département",
    search_button: "Rechercher",
    count_template: "{n} départements sur {total}",
    no_match: "Aucun département ne correspond à « {} ».",
    show_all: "Afficher tous les départements",
    go_back_hint: "Utilisez le bouton Retour de votre navigateur pour choisir un autre département.",
    reference_label: "Si vous contactez le support informatique, donnez-lui cette référence :",
    try_again: "Réessayer",
    start_again: "Recommencer",
    confirm_title: "Continuer vers {} ?",
    confirm_access: "Vous êtes sur le point de donner à {} l’accès à votre compte Matrix.",
    confirm_warning: "Si vous ne connaissez pas {}, ou si vous n’étiez pas en train de vous connecter à une application Matrix, ne continuez pas : fermez cette page.",
    confirm_button: "Continuer vers {}",
    fallback_title: "Se connecter à Matrix",
    fallback_lead: "Connectez-vous avec votre compte de l’université. Vous choisirez votre département, puis reviendrez ici.",
    fallback_button: "Se connecter avec l’université",
    fallback_waiting: "Vous êtes connecté à l’université. En attente de votre application pour terminer la connexion…",
    fallback_no_app: "Aucune application n’a pris cette connexion : elle n’a pas servi. Fermez cette fenêtre et reconnectez-vous depuis votre application.",
    email_placeholder_name: "nom",
};

#[cfg(test)]
mod tests {
    use super::{Lang, Texts};

    /// Every text of `t`. The pattern has no `..`: a new field must be listed
    /// here (once), so the test below sees it in every language.
    fn every_text(t: &Texts) -> [&'static str; 28] {
        macro_rules! all {
            ($($field:ident),* $(,)?) => {{
                let Texts { $($field),* } = t;
                [$(*$field),*]
            }};
        }
        all!(
            lang,
            brand,
            choose_department,
            picker_lead,
            last_time,
            email_heading,
            email_label,
            continue_button,
            list_heading,
            search_label,
            search_button,
            count_template,
            no_match,
            show_all,
            go_back_hint,
            reference_label,
            try_again,
            start_again,
            confirm_title,
            confirm_access,
            confirm_warning,
            confirm_button,
            fallback_title,
            fallback_lead,
            fallback_button,
            fallback_waiting,
            fallback_no_app,
            email_placeholder_name,
        )
    }

    /// `{}`, `{n}`, `{total}`: the placeholders of a text, in order.
    fn placeholders(text: &str) -> Vec<&str> {
        text.match_indices('{')
            .map(|(at, _)| &text[at..=text[at..].find('}').map_or(at, |end| at + end)])
            .collect()
    }

    #[test]
    fn every_text_has_every_language_and_the_same_placeholders() {
        let english = every_text(Lang::En.texts());
        for (en, fr) in english.iter().zip(every_text(Lang::Fr.texts())) {
            assert!(!en.trim().is_empty() && !fr.trim().is_empty(), "{en}");
            assert_eq!(placeholders(en), placeholders(fr), "{fr}");
        }
    }

    #[test]
    fn the_department_count_fills_both_numbers_in_each_language() {
        assert_eq!(Lang::En.texts().count(1, 3), "1 of 3 departments");
        assert_eq!(Lang::Fr.texts().count(12, 40), "12 départements sur 40");
    }

    #[test]
    fn negotiates_with_q_values_and_falls_back_to_english() {
        assert_eq!(Lang::negotiate(Some("fr-CA,fr;q=0.9,en;q=0.8")), Lang::Fr);
        assert_eq!(Lang::negotiate(Some("en-GB,en;q=0.9,fr;q=0.8")), Lang::En);
        assert_eq!(Lang::negotiate(Some("de-DE,de;q=0.9")), Lang::En);
        assert_eq!(Lang::negotiate(Some("de;q=1, fr;q=0.5")), Lang::Fr);
        assert_eq!(Lang::negotiate(Some("en;q=0.2, fr;q=0.7")), Lang::Fr);
        assert_eq!(Lang::negotiate(None), Lang::En);
        assert_eq!(Lang::negotiate(Some("garbage;;;q=x")), Lang::En);
    }
}
